"""Node lifecycle: Ready -> Unknown after node_monitor_grace_seconds without a
heartbeat (timed from what THIS controller observed, like the real
nodeHealthMap, so a cold-started control plane gives every node a full grace
period), condition taints, the unschedulable taint for cordoned nodes, pods
marked not ready, and NoExecute taint eviction after tolerationSeconds."""
import logging
import time

from .. import tolerations
from ..meta import APIError, condition, now_rfc3339, parse_time

LOG = logging.getLogger("nodelifecycle")

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MANAGED = {NOT_READY, UNREACHABLE, UNSCHEDULABLE}


class NodeLifecycle:
    def __init__(self, client, recorder, grace_seconds):
        self.client, self.recorder, self.grace = client, recorder, grace_seconds
        self._observed = {}   # node -> (lastHeartbeatTime string, monotonic when it last changed)
        self._last_sync = None

    def _stale(self, node, lease_renew=None):
        """Neither the Ready heartbeat nor the node's Lease changed for the grace period."""
        name = node["metadata"]["name"]
        ready = condition(node, "Ready") or {}
        hb = (ready.get("lastHeartbeatTime"), lease_renew)
        seen = self._observed.get(name)
        now = time.monotonic()
        if seen is None or seen[0] != hb:
            self._observed[name] = (hb, now)
            return False
        return now - seen[1] > self.grace

    def _mark_unknown(self, node):
        name = node["metadata"]["name"]
        LOG.info("node %s: no heartbeat for more than %ss, marking Unknown", name, self.grace)

        def mutate(cur):
            now = now_rfc3339()
            for cond in (cur.get("status") or {}).get("conditions") or []:
                if cond.get("status") != "Unknown":
                    cond.update(status="Unknown", reason="NodeStatusUnknown",
                                message="Kubelet stopped posting node status.", lastTransitionTime=now)
            return cur
        self.client.update_status("Node", node, mutate)
        self.recorder.emit(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        self._mark_pods_not_ready(name)

    def _mark_pods_not_ready(self, node_name):
        for pod in self.client.list("Pod", field_selector=f"spec.nodeName={node_name}"):
            if (condition(pod, "Ready") or {}).get("status") != "True":
                continue

            def mutate(cur):
                for cond in (cur.get("status") or {}).get("conditions") or []:
                    if cond.get("type") in ("Ready", "ContainersReady"):
                        cond.update(status="False", lastTransitionTime=now_rfc3339())
                return cur
            try:
                self.client.update_status("Pod", pod, mutate)
            except APIError as exc:
                LOG.warning("mark pod %s not ready: %s", pod["metadata"]["name"], exc)

    @staticmethod
    def desired_taints(node):
        status = (condition(node, "Ready") or {}).get("status", "Unknown")
        want = []
        if status == "False":
            want += [(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")]
        elif status == "Unknown":
            want += [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]
        if (node.get("spec") or {}).get("unschedulable"):
            want.append((UNSCHEDULABLE, "NoSchedule"))
        return want

    def _reconcile_taints(self, node):
        want = self.desired_taints(node)
        taints = (node.get("spec") or {}).get("taints") or []
        have = {(t["key"], t["effect"]) for t in taints if t.get("key") in MANAGED}
        if have == set(want):
            return
        kept = [t for t in taints if t.get("key") not in MANAGED or (t["key"], t["effect"]) in want]
        for key, effect in want:
            if (key, effect) not in have:
                taint = {"key": key, "effect": effect}
                if effect == "NoExecute":
                    taint["timeAdded"] = now_rfc3339()
                kept.append(taint)
        LOG.info("node %s taints -> %s", node["metadata"]["name"],
                 ", ".join(f"{t['key']}:{t['effect']}" for t in kept) or "none")
        self.client.patch("Node", None, node["metadata"]["name"], {"spec": {"taints": kept or None}})

    def _evict(self, node):
        noexec = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not noexec:
            return
        now = time.time()
        for pod in self.client.list("Pod", field_selector=f"spec.nodeName={node['metadata']['name']}"):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            due = None
            for taint in noexec:
                tols = [t for t in (pod.get("spec") or {}).get("tolerations") or []
                        if tolerations.tolerates(t, taint)]
                if not tols:
                    due = now
                    break
                secs = min((t["tolerationSeconds"] for t in tols if t.get("tolerationSeconds") is not None),
                           default=None)
                if secs is not None:
                    added = parse_time(taint.get("timeAdded")) or now
                    due = min(due or added + secs, added + secs)
            if due is not None and due <= now:
                ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
                LOG.info("taint eviction: deleting pod %s/%s from node %s", ns, name, node["metadata"]["name"])
                self.recorder.emit(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}")
                self.client.delete("Pod", ns, name)

    def sync(self):
        now = time.monotonic()
        if self._last_sync is None or now - self._last_sync > self.grace:
            # we were not watching (start, lost leadership, apiserver away): every
            # node gets a full grace period from now, as in the real controller
            self._observed.clear()
        self._last_sync = now
        nodes = self.client.list("Node")
        leases = {lease["metadata"]["name"]: (lease.get("spec") or {}).get("renewTime")
                  for lease in self.client.list("Lease", "kube-node-lease")}
        for node in nodes:
            name = node["metadata"]["name"]
            try:
                if self._stale(node, leases.get(name)) and (condition(node, "Ready") or {}).get("status") != "Unknown":
                    self._mark_unknown(node)
                    node = self.client.get("Node", None, name)
                self._reconcile_taints(node)
                self._evict(self.client.get("Node", None, name))
            except APIError as exc:
                LOG.warning("node %s: %s", name, exc)
        names = {n["metadata"]["name"] for n in nodes}
        for gone in set(self._observed) - names:
            self._observed.pop(gone)
