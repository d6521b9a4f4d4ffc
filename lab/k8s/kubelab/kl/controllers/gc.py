"""Garbage collection: orphans of deleted owners (background cascading
deletion), terminating namespaces, and old events."""
import logging
import time

from ..meta import APIError, controller_ref, parse_time

LOG = logging.getLogger("gc")

NAMESPACED_KINDS = ("Pod", "ReplicaSet", "Deployment", "PersistentVolumeClaim", "Event", "Lease")


class GarbageCollector:
    def __init__(self, client, event_ttl_seconds=3600):
        self.client, self.event_ttl = client, event_ttl_seconds

    def sync(self):
        owners = {o["metadata"]["uid"] for kind in ("Deployment", "ReplicaSet")
                  for o in self.client.list(kind)}
        for kind in ("ReplicaSet", "Pod"):
            for obj in self.client.list(kind):
                ref = controller_ref(obj)
                if ref and ref.get("kind") in ("Deployment", "ReplicaSet") and ref.get("uid") not in owners \
                        and not obj["metadata"].get("deletionTimestamp"):
                    LOG.info("deleting %s %s/%s: owner %s %s is gone", kind, obj["metadata"]["namespace"],
                             obj["metadata"]["name"], ref.get("kind"), ref.get("name"))
                    self.client.delete(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
        self._namespaces()
        self._events()
        self._node_leases()

    def _node_leases(self):
        nodes = {n["metadata"]["uid"] for n in self.client.list("Node")}
        for lease in self.client.list("Lease", "kube-node-lease"):
            owners = [r for r in lease["metadata"].get("ownerReferences") or [] if r.get("kind") == "Node"]
            if owners and not any(r.get("uid") in nodes for r in owners):
                LOG.info("deleting node lease %s: its Node is gone", lease["metadata"]["name"])
                self.client.delete("Lease", "kube-node-lease", lease["metadata"]["name"])

    def _namespaces(self):
        for ns in self.client.list("Namespace"):
            if not ns["metadata"].get("deletionTimestamp"):
                continue
            name, left = ns["metadata"]["name"], 0
            for kind in NAMESPACED_KINDS:
                for obj in self.client.list(kind, name):
                    left += 1
                    if not obj["metadata"].get("deletionTimestamp"):
                        self.client.delete(kind, name, obj["metadata"]["name"])
            if left == 0:
                ns["metadata"]["finalizers"] = []
                try:
                    self.client.replace("Namespace", ns)
                    LOG.info("namespace %s finalized", name)
                except APIError as exc:
                    LOG.warning("finalizing namespace %s: %s", name, exc)

    def _events(self):
        cutoff = time.time() - self.event_ttl
        for ev in self.client.list("Event"):
            last = parse_time(ev.get("lastTimestamp") or ev["metadata"].get("creationTimestamp"))
            if last and last < cutoff:
                self.client.delete("Event", ev["metadata"]["namespace"], ev["metadata"]["name"])
