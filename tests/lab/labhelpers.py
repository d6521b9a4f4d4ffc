"""Helpers for the lab tests (imported by name: a unique module name, no clash with other conftests).

Environment:
  LAB_TOPOLOGY   topology to bring up when no lab runs (default: small)
  LAB_KEEP=1     never tear the lab down at the end
  LAB_TEST_DOWN=1  tear down (and check nothing is left) even when the lab was already running
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "lab"
INSTANCE = int(os.environ.get("BLACKSTART_LAB_INSTANCE", "0") or 0)
STATE = Path(os.environ.get("BLACKSTART_LAB_STATE", LAB / (".state" if INSTANCE == 0 else f".state-{INSTANCE}")))
POWER = LAB / "power"
PY = REPO / ".venv" / "bin" / "python"
INVENTORY_DIR = REPO / "inventories" / "lab" if INSTANCE == 0 else STATE / "inventory"
INVENTORY = INVENTORY_DIR / "hosts.yml"
KUBECONFIG = INVENTORY_DIR / "kubeconfig"
KUBECTL = REPO / ".venv" / "bin" / "kubectl"
CEPH = "timeout -k 5 60 ceph --connect-timeout 10 --rados_mon_op_timeout=20 --rados_osd_op_timeout=20"


def lab_cmd(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(PY), str(LAB / "bin" / "lab"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def power(action: str, host: str) -> subprocess.CompletedProcess:
    # from another cwd on purpose: the collection's command backend calls it from anywhere
    return subprocess.run([str(POWER), action, host], capture_output=True, text=True, timeout=300, cwd="/")


def podman_env() -> dict:
    env = dict(os.environ)
    env.update(CONTAINERS_CONF=str(STATE / "podman" / "containers.conf"),
               CONTAINERS_STORAGE_CONF=str(STATE / "podman" / "storage.conf"),
               CONTAINERS_REGISTRIES_CONF=str(STATE / "podman" / "registries.conf"))
    return env


def wait_until(what: str, fn, timeout: float, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - keep polling, report the last error
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def _lab_running() -> bool:
    topo = STATE / "topology.json"
    if not topo.exists():
        return False
    names = [h["name"] for h in json.loads(topo.read_text())["hosts"]]
    p = subprocess.run(["podman", "ps", "--format", "{{.Names}}"], capture_output=True, text=True, env=podman_env())
    return p.returncode == 0 and all(n in p.stdout.split() for n in names)


def with_role(lab: dict, role: str) -> list[str]:
    return [h["name"] for h in lab["hosts"] if role in h["roles"]]


def ceph_json(host, args: str):
    r = host.run(f"{CEPH} {args} -f json")
    assert r.rc == 0, f"ceph {args}: rc={r.rc} {r.stderr}"
    return json.loads(r.stdout)


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([str(KUBECTL), "--kubeconfig", str(KUBECONFIG), "--request-timeout=20s", *args],
                       capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stderr}"
    return p


def kubelab_available() -> bool:
    return (LAB / "k8s" / "units").is_dir() and any((LAB / "k8s" / "units").glob("*.service"))
