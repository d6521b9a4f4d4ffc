"""Leader election on a coordination.k8s.io/v1 Lease (stored in etcd by the
apiserver), like the real controller-manager and scheduler."""
import datetime
import logging
import threading
import time

from .client import Unavailable
from .meta import APIError

LOG = logging.getLogger("leader")


def _micro_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_micro(text):
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return 0.0


class LeaderElector:
    def __init__(self, client, name, identity, lease_seconds=15, namespace="kube-system"):
        self.client, self.name, self.identity = client, name, identity
        self.namespace, self.lease_seconds = namespace, lease_seconds
        self.is_leader = False
        self._stop = threading.Event()

    def _try(self):
        lease = self.client.get_or_none("Lease", self.namespace, self.name)
        now = _micro_now()
        if lease is None:
            self.client.create("Lease", {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                         "metadata": {"name": self.name, "namespace": self.namespace},
                                         "spec": {"holderIdentity": self.identity,
                                                  "leaseDurationSeconds": self.lease_seconds,
                                                  "acquireTime": now, "renewTime": now, "leaseTransitions": 0}})
            return True
        spec = lease.setdefault("spec", {})
        holder = spec.get("holderIdentity")
        expired = time.time() - _parse_micro(spec.get("renewTime")) > spec.get("leaseDurationSeconds",
                                                                                 self.lease_seconds)
        if holder != self.identity and not expired:
            return False
        if holder != self.identity:
            spec["leaseTransitions"] = spec.get("leaseTransitions", 0) + 1
            spec["acquireTime"] = now
            spec["holderIdentity"] = self.identity
        spec["renewTime"] = now
        spec["leaseDurationSeconds"] = self.lease_seconds
        self.client.replace("Lease", lease)
        return True

    def step(self):
        try:
            leader = self._try()
        except (APIError, Unavailable) as exc:
            LOG.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            leader = False
        if leader != self.is_leader:
            LOG.info("%s leadership of %s/%s", "acquired" if leader else "lost", self.namespace, self.name)
        self.is_leader = leader
        return leader

    def run(self):
        while not self._stop.is_set():
            self.step()
            self._stop.wait(self.lease_seconds / 3.0)

    def start(self):
        threading.Thread(target=self.run, daemon=True, name=f"leader-{self.name}").start()
        return self

    def stop(self):
        self._stop.set()
