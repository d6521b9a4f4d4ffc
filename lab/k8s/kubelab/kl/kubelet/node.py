"""Node registration and the Ready heartbeat.

Every node_status_update_seconds the kubelet posts its Node status: Ready=True
while the container runtime answers on its socket, Ready=False ("container
runtime is down") while it does not.  When the kubelet itself stops, nothing
is posted and the node lifecycle controller turns the node Unknown."""
import datetime
import logging
import os
import platform
import time

from ..client import Unavailable
from ..meta import APIError, now_rfc3339
from ..runtime import RuntimeDown

LOG = logging.getLogger("node")

KUBELET_VERSION = "v1.37.0-kubelab"


def _os_image():
    try:
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _read(path, default=""):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return default


def _memory():
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return f"{line.split()[1]}Ki"
    return "0"


class NodeAgent:
    def __init__(self, client, runtime, cfg):
        self.client, self.runtime, self.cfg = client, runtime, cfg
        self.name = cfg["node_name"]
        self.last_ready = None
        self.last_posted = (None, float("-inf"))   # (ready, message), monotonic time of the last status post
        self.report_every = float(cfg.get("node_status_report_seconds", 0))
        self.lease_every = float(cfg.get("node_lease_renew_seconds", 10))
        self.lease_duration = int(cfg.get("node_lease_duration_seconds", 40))
        self.last_lease = 0.0

    def _node_object(self):
        capacity = {"cpu": str(os.cpu_count() or 1), "memory": _memory(), "pods": "110",
                    "ephemeral-storage": "10Gi"}
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}
        labels.update(self.cfg.get("node_labels") or {})
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": labels,
                             "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
                "spec": {}, "status": {"capacity": capacity, "allocatable": capacity}}

    def _status(self, ready, message):
        now = now_rfc3339()
        info = {"machineID": _read("/etc/machine-id"), "systemUUID": _read("/etc/machine-id"),
                "bootID": _read("/proc/sys/kernel/random/boot_id"), "kernelVersion": platform.release(),
                "osImage": _os_image(), "containerRuntimeVersion": "containerd://1.7.0-kubelab",
                "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": "", "operatingSystem": "linux",
                "architecture": "amd64"}
        ok = {"status": "False", "lastHeartbeatTime": now}
        conds = [
            dict(ok, type="MemoryPressure", reason="KubeletHasSufficientMemory",
                 message="kubelet has sufficient memory available"),
            dict(ok, type="DiskPressure", reason="KubeletHasNoDiskPressure", message="kubelet has no disk pressure"),
            dict(ok, type="PIDPressure", reason="KubeletHasSufficientPID", message="kubelet has sufficient PID available"),
            {"type": "Ready", "status": "True" if ready else "False", "lastHeartbeatTime": now,
             "reason": "KubeletReady" if ready else "KubeletNotReady", "message": message},
        ]
        addresses = [{"type": "InternalIP", "address": self.cfg.get("node_ip") or "127.0.0.1"},
                     {"type": "Hostname", "address": self.name}]
        return info, conds, addresses

    def register(self):
        try:
            self.client.create("Node", self._node_object())
            LOG.info("registered node %s", self.name)
        except APIError as exc:
            if exc.code != 409:
                raise

    def heartbeat(self):
        try:
            ready = self.runtime.ping()
            message = "kubelet is posting ready status"
        except RuntimeDown as exc:
            ready, message = False, f"container runtime is down: {exc}"
        now = time.monotonic()
        info, conds, addresses = self._status(ready, message)
        skipped = []

        def mutate(node):
            st = node.setdefault("status", {})
            current = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), {})
            if self.report_every and now - self.last_posted[1] < self.report_every and \
                    current.get("status") == ("True" if ready else "False") and current.get("message") == message:
                skipped.append(True)   # real kubelets post an unchanged status only every nodeStatusReportFrequency
                return None
            prev = {c["type"]: c for c in st.get("conditions") or []}
            for cond in conds:
                old = prev.get(cond["type"])
                same = old and old.get("status") == cond["status"]
                cond["lastTransitionTime"] = old.get("lastTransitionTime") if same else cond["lastHeartbeatTime"]
            st.update(conditions=conds, nodeInfo=info, addresses=addresses,
                      daemonEndpoints={"kubeletEndpoint": {"Port": 10250}})
            fresh = self._node_object()["status"]
            st.setdefault("capacity", fresh["capacity"])
            st.setdefault("allocatable", fresh["allocatable"])
            return node
        try:
            self.client.update_status("Node", {"metadata": {"name": self.name}}, mutate)
        except APIError as exc:
            if exc.code == 404:
                self.register()
                return
            raise
        if skipped:
            return
        if ready != self.last_ready:
            LOG.info("node %s posted Ready=%s (%s)", self.name, ready, message)
        self.last_ready = ready
        self.last_posted = ((ready, message), now)

    def renew_lease(self):
        """The node heartbeat of kubelets >= 1.17: Lease kube-node-lease/<node>."""
        now = time.monotonic()
        if now - self.last_lease < self.lease_every:
            return
        micro = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lease = self.client.get_or_none("Lease", "kube-node-lease", self.name)
        if lease is None:
            node = self.client.get_or_none("Node", None, self.name)
            owner = [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": node["metadata"]["uid"]}] \
                if node else []
            self.client.create("Lease", {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                         "metadata": {"name": self.name, "namespace": "kube-node-lease",
                                                      "ownerReferences": owner},
                                         "spec": {"holderIdentity": self.name, "renewTime": micro,
                                                  "leaseDurationSeconds": self.lease_duration}})
        else:
            lease.setdefault("spec", {}).update(holderIdentity=self.name, renewTime=micro,
                                                leaseDurationSeconds=self.lease_duration)
            self.client.replace("Lease", lease)
        self.last_lease = now

    def step(self):
        try:
            self.heartbeat()
        except (APIError, Unavailable) as exc:
            LOG.warning("cannot post node status: %s", exc)
        try:
            self.renew_lease()
        except (APIError, Unavailable) as exc:
            LOG.warning("cannot renew node lease: %s", exc)
