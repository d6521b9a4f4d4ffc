"""kube-controller-manager stand-in: one leader (Lease kube-system/kube-controller-manager)
runs node lifecycle, deployment, replicaset, volume and GC loops."""
import logging
import os
import socket

from .. import runloop
from ..client import Client, EventRecorder, Unavailable
from ..leader import LeaderElector
from ..meta import APIError
from .gc import GarbageCollector
from .nodelifecycle import NodeLifecycle
from .volumes import VolumeController
from .workloads import DeploymentController, ReplicaSetController

LOG = logging.getLogger("controller-manager")


def run(cfg):
    stop = runloop.stop_event()
    client = Client(cfg)
    identity = f"{cfg['node_name']}_{socket.gethostname()}_{os.getpid()}"
    elector = LeaderElector(client, "kube-controller-manager", identity, int(cfg["leader_lease_seconds"])).start()
    period = float(cfg["sync_period_seconds"])
    loops = {
        "nodelifecycle": (float(cfg["node_monitor_period_seconds"]),
                          NodeLifecycle(client, EventRecorder(client, "node-controller"),
                                        float(cfg["node_monitor_grace_seconds"])).sync),
        "deployment": (period, DeploymentController(client, EventRecorder(client, "deployment-controller")).sync),
        "replicaset": (period, ReplicaSetController(client, EventRecorder(client, "replicaset-controller")).sync),
        "volumes": (period, VolumeController(client, EventRecorder(client, "persistentvolume-controller"), cfg).sync),
        "gc": (period * 5, GarbageCollector(client, int(cfg.get("event_ttl_seconds", 3600))).sync),
    }

    def guarded(fn, name):
        def step():
            if not elector.is_leader:
                return
            try:
                fn()
            except Unavailable as exc:
                LOG.warning("%s: apiserver unavailable: %s", name, exc)
            except APIError as exc:   # e.g. 500 while etcd has no quorum: retry next period
                LOG.warning("%s: %s", name, exc)
        return step
    threads = [runloop.spawn(p, guarded(fn, name), stop, name) for name, (p, fn) in loops.items()]
    LOG.info("kube-controller-manager %s started (%d loops)", identity, len(threads))
    stop.wait()
    elector.stop()
    for t in threads:
        t.join(timeout=5)
    return 0

