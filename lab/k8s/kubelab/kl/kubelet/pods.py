"""The pod worker: volumes, containers (via the runtime), status, deletion."""
import logging
import os
import sys
import json
import time

from ..client import EventRecorder, Unavailable
from ..meta import APIError, now_rfc3339
from ..runtime import RuntimeDown
from .volumes import MountError

LOG = logging.getLogger("pods")

PODINIT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "podinit.py")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Backoff:
    def __init__(self, initial, maximum):
        self.initial, self.maximum = initial, maximum
        self.state = {}   # key -> (next monotonic, delay)

    def ready(self, key):
        return time.monotonic() >= self.state.get(key, (0, 0))[0]

    def fail(self, key):
        _, delay = self.state.get(key, (0, self.initial / 2))
        delay = min(max(delay * 2, self.initial), self.maximum)
        self.state[key] = (time.monotonic() + delay, delay)
        return delay

    def reset(self, key):
        self.state.pop(key, None)


def cid(uid, cname):
    return f"{uid}_{cname}"


class PodWorker:
    def __init__(self, client, runtime, volumes, cfg):
        self.client, self.runtime, self.volumes, self.cfg = client, runtime, volumes, cfg
        self.node = cfg["node_name"]
        self.recorder = EventRecorder(client, "kubelet", self.node)
        self.mount_backoff = Backoff(float(cfg["mount_backoff_initial_seconds"]),
                                     float(cfg["mount_backoff_max_seconds"]))
        self.crash_backoff = Backoff(float(cfg["crash_backoff_initial_seconds"]),
                                     float(cfg["crash_backoff_max_seconds"]))
        self.mounted = {}        # uid -> {volume: host path}
        self.mount_error = {}    # uid -> last FailedMount message
        self.restarts = {}       # uid/cname -> restart count
        self.last_term = {}      # uid/cname -> lastState.terminated of the previous run
        self.use_ns = bool(cfg.get("mount_namespace", True))

    # -- the loop -----------------------------------------------------------------
    def sync(self):
        try:
            pods = self.client.list("Pod", field_selector=f"spec.nodeName={self.node}")
        except (APIError, Unavailable) as exc:
            LOG.warning("cannot list pods: %s", exc)
            return
        try:
            running = self.runtime.containers()
        except RuntimeDown as exc:
            LOG.warning("%s", exc)
            return
        for pod in pods:
            try:
                if pod["metadata"].get("deletionTimestamp"):
                    self.terminate(pod, running)
                elif (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    self.sync_pod(pod, running)
            except (APIError, Unavailable, RuntimeDown) as exc:
                LOG.warning("pod %s/%s: %s", pod["metadata"]["namespace"], pod["metadata"]["name"], exc)
        self.cleanup_orphans({p["metadata"]["uid"] for p in pods}, running)

    # -- running pods ----------------------------------------------------------------
    def sync_pod(self, pod, running):
        uid = pod["metadata"]["uid"]
        if uid not in self.mounted:
            if not self.mount_backoff.ready(uid):
                return
            try:
                self.mounted[uid] = self.volumes.setup(pod)
                self.mount_backoff.reset(uid)
                self.mount_error.pop(uid, None)
            except (MountError, OSError) as exc:
                delay = self.mount_backoff.fail(uid)
                msg = str(exc)
                LOG.warning("pod %s/%s: FailedMount (retry in %.0fs): %s", pod["metadata"]["namespace"],
                            pod["metadata"]["name"], delay, msg)
                self.recorder.emit(pod, "Warning", getattr(exc, "reason", "FailedMount"), msg)
                self.mount_error[uid] = msg
                self.post_status(pod, running)
                return
        for c in pod["spec"].get("containers") or []:
            self.ensure_container(pod, c, running)
        self.post_status(pod, self.runtime.containers())

    def ensure_container(self, pod, container, running):
        uid, cname = pod["metadata"]["uid"], container["name"]
        key = cid(uid, cname)
        state = running.get(key)
        if state and state["running"]:
            return
        policy = pod["spec"].get("restartPolicy", "Always")
        if state:   # exited: restart per policy, with CrashLoopBackOff
            if policy == "Never" or (policy == "OnFailure" and state["exit_code"] == 0):
                return
            if not self.crash_backoff.ready(key):
                return
            self.last_term[key] = _terminated(state)
            self.runtime.call("remove", id=key)
            self.restarts[key] = self._restart_count(pod, cname) + 1
            self.recorder.emit(pod, "Warning", "BackOff", f"Back-off restarting failed container {cname} in pod "
                                                          f"{pod['metadata']['name']}_{pod['metadata']['namespace']}")
        elif self._ran_before(pod, cname):
            # the runtime lost it (containerd or host restarted): a restart, as
            # the real kubelet reports it after a node reboot
            self.last_term[key] = {"exitCode": 255, "reason": "Unknown", "startedAt": None, "finishedAt": None}
            self.restarts[key] = self._restart_count(pod, cname) + 1
        argv = (container.get("command") or []) + (container.get("args") or [])
        if not argv:
            self.recorder.emit(pod, "Warning", "Failed", f"Error: container {cname} has no command; kubelab runs "
                                                         "the container command as a host process (images are ignored)")
            return
        resp = self.runtime.call("run", id=key, argv=self._wrap(pod, container, argv), env=self._env(pod, container),
                                 cwd="/", log=self._log_path(pod, cname))
        if not resp.get("ok"):
            self.recorder.emit(pod, "Warning", "Failed", f"Error: {resp.get('error')}")
            return
        if state:
            self.crash_backoff.fail(key)
        self.recorder.emit(pod, "Normal", "Created", f"Created container: {cname}")
        self.recorder.emit(pod, "Normal", "Started", f"Started container {cname}")

    def _ran_before(self, pod, cname):
        key = cid(pod["metadata"]["uid"], cname)
        if key in self.restarts:
            return False   # we started it (or counted it) ourselves
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if cs.get("name") == cname and ("running" in (cs.get("state") or {}) or cs.get("restartCount")):
                return True
        return False

    def _restart_count(self, pod, cname):
        key = cid(pod["metadata"]["uid"], cname)
        if key in self.restarts:
            return self.restarts[key]
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if cs.get("name") == cname:
                return cs.get("restartCount", 0)
        return 0

    def _log_path(self, pod, cname):
        md = pod["metadata"]
        return os.path.join(self.cfg["pod_log_dir"], f"{md['namespace']}_{md['name']}_{md['uid']}", cname, "0.log")

    def _env(self, pod, container):
        env = {"PATH": DEFAULT_PATH, "HOSTNAME": pod["metadata"]["name"], "HOME": "/root",
               "KUBERNETES_NODE_NAME": self.node, "KUBERNETES_POD_NAME": pod["metadata"]["name"],
               "KUBERNETES_POD_NAMESPACE": pod["metadata"]["namespace"], "KUBERNETES_POD_UID": pod["metadata"]["uid"]}
        paths = self.mounted.get(pod["metadata"]["uid"], {})
        for vm in container.get("volumeMounts") or []:
            # the host path of every mount, for runs without a private mount namespace
            var = "KUBELAB_MOUNT_" + "".join(ch if ch.isalnum() else "_" for ch in vm["mountPath"]).strip("_").upper()
            env[var] = os.path.join(paths.get(vm["name"], ""), vm.get("subPath", ""))
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = str(item["value"])
        return env

    def _wrap(self, pod, container, argv):
        paths = self.mounted.get(pod["metadata"]["uid"], {})
        mounts = [[os.path.join(paths[vm["name"]], vm.get("subPath", "")), vm["mountPath"], bool(vm.get("readOnly"))]
                  for vm in container.get("volumeMounts") or [] if vm["name"] in paths]
        if not self.use_ns or not mounts:
            return argv
        spec = json.dumps({"mounts": mounts, "cwd": container.get("workingDir") or "/"})
        return ["unshare", "--mount", "--propagation", "slave", "--", sys.executable, PODINIT, spec, "--", *argv]

    # -- status -----------------------------------------------------------------------
    def _container_status(self, pod, c, running):
        uid, cname = pod["metadata"]["uid"], c["name"]
        st = running.get(cid(uid, cname))
        cs = {"name": cname, "image": c.get("image", ""), "imageID": "", "containerID": "",
              "restartCount": self._restart_count(pod, cname), "started": False, "ready": False, "state": {}}
        prev = self.last_term.get(cid(uid, cname)) or next(
            (x.get("lastState", {}).get("terminated") for x in (pod.get("status") or {}).get("containerStatuses") or []
             if x.get("name") == cname and x.get("lastState")), None)
        if prev:
            cs["lastState"] = {"terminated": prev}
        if uid in self.mount_error or st is None:
            cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
        elif st["running"]:
            cs.update(started=True, ready=True, containerID=f"containerd://{st['id']}",
                      state={"running": {"startedAt": st["started_at"]}})
        else:
            term = _terminated(st)
            policy = pod["spec"].get("restartPolicy", "Always")
            will_restart = policy == "Always" or (policy == "OnFailure" and st["exit_code"] != 0)
            if will_restart:
                cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                           "message": f"back-off restarting failed container {cname}"}}
                cs["lastState"] = {"terminated": term}
            else:
                cs["state"] = {"terminated": term}
        return cs

    def post_status(self, pod, running):
        statuses = [self._container_status(pod, c, running) for c in pod["spec"].get("containers") or []]
        states = [next(iter(s["state"])) for s in statuses]
        if all(s == "terminated" for s in states) and states:
            codes = [s["state"]["terminated"]["exitCode"] for s in statuses]
            phase = "Succeeded" if all(c == 0 for c in codes) else "Failed"
        elif any(s == "running" for s in states) or any(s.get("lastState") for s in statuses):
            phase = "Running"
        else:
            phase = "Pending"
        ready = bool(statuses) and all(s["ready"] for s in statuses)
        ip = self.cfg.get("node_ip") or "127.0.0.1"

        def mutate(cur):
            st = cur.setdefault("status", {})
            prev = {c["type"]: c for c in st.get("conditions") or []}
            now = now_rfc3339()

            def cond(ctype, ok):
                val = "True" if ok else "False"
                old = prev.get(ctype) or {}
                return {"type": ctype, "status": val, "lastProbeTime": None,
                        "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == val else now}
            conds = [cond("PodReadyToStartContainers", cur["metadata"]["uid"] not in self.mount_error),
                     cond("Initialized", True), cond("Ready", ready), cond("ContainersReady", ready),
                     cond("PodScheduled", True)]
            new = dict(st, phase=phase, conditions=conds, containerStatuses=statuses, hostIP=ip,
                       hostIPs=[{"ip": ip}], podIP=ip, podIPs=[{"ip": ip}], startTime=st.get("startTime") or now)
            if _comparable(new) == _comparable(st):
                return None
            cur["status"] = new
            return cur
        self.client.update_status("Pod", pod, mutate)

    # -- deletion -------------------------------------------------------------------------
    def terminate(self, pod, running):
        uid = pod["metadata"]["uid"]
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds", 30))
        for c in pod["spec"].get("containers") or []:
            key = cid(uid, c["name"])
            if key in running:
                self.runtime.call("kill", id=key, grace=grace, timeout=grace + 30)
                self.runtime.call("remove", id=key)
                self.recorder.emit(pod, "Normal", "Killing", f"Stopping container {c['name']}")
        if not self.volumes.teardown(uid):
            LOG.warning("pod %s: volumes still mounted, will retry", pod["metadata"]["name"])
            return
        self.forget(uid)
        self.volumes.remove_pod_dir(uid)
        self.client.delete("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"], grace=0, uid=uid)
        LOG.info("pod %s/%s terminated and deleted", pod["metadata"]["namespace"], pod["metadata"]["name"])

    def forget(self, uid):
        self.mounted.pop(uid, None)
        self.mount_error.pop(uid, None)
        self.mount_backoff.reset(uid)
        for table in (self.restarts, self.last_term):
            for key in [k for k in table if k.startswith(uid + "_")]:
                table.pop(key)

    def cleanup_orphans(self, live_uids, running):
        """Containers and mounts of pods that no longer exist on this node (force-deleted, rebound)."""
        for key in running:
            uid = key.split("_", 1)[0]
            if uid not in live_uids:
                LOG.info("killing orphaned container %s", key)
                self.runtime.call("kill", id=key, grace=2, timeout=40)
                self.runtime.call("remove", id=key)
        for uid in self.volumes.known_pod_dirs():
            if uid not in live_uids and self.volumes.teardown(uid):
                self.forget(uid)
                self.volumes.remove_pod_dir(uid)


def _terminated(st):
    return {"exitCode": st["exit_code"], "reason": "Completed" if st["exit_code"] == 0 else "Error",
            "startedAt": st["started_at"], "finishedAt": st["finished_at"], "containerID": f"containerd://{st['id']}"}


def _comparable(status):
    """Status without timestamps that change on every post."""
    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in ("lastProbeTime",)}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj
    return json.dumps(strip(status), sort_keys=True)
