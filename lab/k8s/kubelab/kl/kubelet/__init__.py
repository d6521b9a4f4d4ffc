"""kubelet stand-in: node heartbeat + pod worker."""
import logging
import threading

from .. import runloop
from ..client import Client
from ..runtime import RuntimeClient
from .node import NodeAgent
from .pods import PodWorker
from .volumes import VolumeManager

LOG = logging.getLogger("kubelet")


def run(cfg):
    stop = runloop.stop_event()
    client = Client(cfg)
    runtime = RuntimeClient(cfg["containerd_socket"])
    agent = NodeAgent(client, runtime, cfg)
    volumes = VolumeManager(client, cfg)
    if cfg.get("mount_namespace", True):
        volumes.prepare()
    worker = PodWorker(client, runtime, volumes, cfg)
    LOG.info("kubelet (kubelab) starting on node %s", cfg["node_name"])
    hb = threading.Thread(target=runloop.every, args=(float(cfg["node_status_update_seconds"]), agent.step, stop,
                                                       "heartbeat"), daemon=True, name="heartbeat")
    hb.start()
    runloop.every(float(cfg["sync_period_seconds"]), worker.sync, stop, "pod-sync")
    # Graceful stop: no more heartbeats; containers keep running in the runtime.
    hb.join(timeout=5)
    LOG.info("kubelet stopped (containers stay with the runtime)")
    return 0
