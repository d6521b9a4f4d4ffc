"""kube-proxy stand-in: no Services exist in the lab, so it only checks that
the apiserver answers and logs a heartbeat; it exists so that the unit name,
its enablement and the stop order are real."""
import logging

from . import runloop
from .client import Client, Unavailable
from .meta import APIError

LOG = logging.getLogger("kube-proxy")


def run(cfg):
    stop = runloop.stop_event()
    client = Client(cfg)
    state = {"ok": None}

    def beat():
        try:
            client.request("GET", "/version", timeout=5)
            ok = True
        except (Unavailable, APIError) as exc:
            ok = False
            LOG.warning("apiserver unavailable: %s", exc)
        if ok != state["ok"]:
            LOG.info("apiserver %s", "reachable" if ok else "unreachable")
            state["ok"] = ok
    LOG.info("kube-proxy (kubelab) started on %s", cfg["node_name"])
    runloop.every(30.0, beat, stop, "kube-proxy")
    return 0
