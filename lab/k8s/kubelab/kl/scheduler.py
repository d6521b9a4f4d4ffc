"""kube-scheduler stand-in: binds pending pods to a schedulable, untainted node."""
import collections
import logging
import os
import socket

from . import runloop, tolerations
from .client import Client, EventRecorder, Unavailable
from .leader import LeaderElector
from .meta import APIError, now_rfc3339

LOG = logging.getLogger("scheduler")


class Scheduler:
    def __init__(self, client, recorder):
        self.client, self.recorder = client, recorder
        self._last_reason = {}

    def _pvc_problem(self, pod):
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = self.client.get_or_none("PersistentVolumeClaim", pod["metadata"]["namespace"], claim)
            if pvc is None:
                return f'persistentvolumeclaim "{claim}" not found'
            if (pvc.get("status") or {}).get("phase") != "Bound":
                return "pod has unbound immediate PersistentVolumeClaims"
        return None

    @staticmethod
    def _node_problem(pod, node):
        if (node.get("spec") or {}).get("unschedulable"):
            return "node(s) were unschedulable"
        bad = tolerations.untolerated(pod, (node.get("spec") or {}).get("taints"))
        if bad:
            return f"node(s) had untolerated taint {{{bad[0]['key']}: {bad[0].get('value', '')}}}"
        want = (pod.get("spec") or {}).get("nodeSelector") or {}
        labels = node["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in want.items()):
            return "node(s) didn't match Pod's node affinity/selector"
        return None

    def _unschedulable(self, pod, message):
        key = pod["metadata"]["uid"]
        if self._last_reason.get(key) == message:
            return
        self._last_reason[key] = message
        LOG.info("pod %s/%s unschedulable: %s", pod["metadata"]["namespace"], pod["metadata"]["name"], message)
        self.recorder.emit(pod, "Warning", "FailedScheduling", message)

        def mutate(cur):
            conds = [c for c in (cur.get("status") or {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                          "lastProbeTime": None, "lastTransitionTime": now_rfc3339()})
            cur.setdefault("status", {})["conditions"] = conds
            return cur
        try:
            self.client.update_status("Pod", pod, mutate)
        except APIError as exc:
            LOG.warning("cannot update pod status: %s", exc)

    def sync(self):
        pending = [p for p in self.client.list("Pod", field_selector="spec.nodeName=")
                   if not p["metadata"].get("deletionTimestamp")
                   and (p.get("spec") or {}).get("schedulerName", "default-scheduler") == "default-scheduler"
                   and (p.get("status") or {}).get("phase") in (None, "Pending")]
        if not pending:
            return
        nodes = self.client.list("Node")
        load = collections.Counter((p.get("spec") or {}).get("nodeName") for p in self.client.list("Pod"))
        for pod in pending:
            self.schedule(pod, nodes, load)

    def schedule(self, pod, nodes, load):
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        problem = self._pvc_problem(pod)
        if problem:
            return self._unschedulable(pod, f"0/{len(nodes)} nodes are available: {problem}.")
        reasons = collections.Counter()
        fit = []
        for node in nodes:
            why = self._node_problem(pod, node)
            if why:
                reasons[why] += 1
            else:
                fit.append(node)
        if not fit:
            detail = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items()))
            return self._unschedulable(pod, f"0/{len(nodes)} nodes are available: {detail or 'no nodes registered'}.")
        target = min(fit, key=lambda n: (load[n["metadata"]["name"]], n["metadata"]["name"]))["metadata"]["name"]
        try:
            self.client.request("POST", self.client.path("Pod", ns, name, "binding"), {
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": ns},
                "target": {"apiVersion": "v1", "kind": "Node", "name": target}})
        except APIError as exc:
            LOG.warning("binding %s/%s to %s failed: %s", ns, name, target, exc)
            return None
        load[target] += 1
        self._last_reason.pop(pod["metadata"]["uid"], None)
        LOG.info("bound %s/%s to %s", ns, name, target)
        self.recorder.emit(pod, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {target}")
        return target


def run(cfg):
    stop = runloop.stop_event()
    client = Client(cfg)
    identity = f"{cfg['node_name']}_{socket.gethostname()}_{os.getpid()}"
    elector = LeaderElector(client, "kube-scheduler", identity, int(cfg["leader_lease_seconds"])).start()
    sched = Scheduler(client, EventRecorder(client, "default-scheduler"))

    def step():
        if not elector.is_leader:
            return
        try:
            sched.sync()
        except (Unavailable, APIError) as exc:
            LOG.warning("cannot schedule now: %s", exc)
    LOG.info("kube-scheduler %s starting", identity)
    runloop.every(float(cfg["sync_period_seconds"]), step, stop, "schedule")
    elector.stop()
    return 0
