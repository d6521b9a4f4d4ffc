"""`lab incident` / `lab heal`: the incident of DEVELOPERS.md, reproduced on the running lab.

incident: one OSD unit and every MDS unit lose their autostart (systemctl disable, still running),
          then every host loses power at once (lab/power kill) and power returns (lab/power on).
          Result: the OSD is down, CephFS has no serving MDS, cephfs PVC pods get FailedMount.
heal:     systemctl enable --now those units.
"""
from __future__ import annotations

import json
import subprocess

from .core import LAB_DIR, STATE_DIR, LabError, current_topology, hexec, hosts_with, log, parallel

RECORD = STATE_DIR / "incident.json"


def _power(action: str, host: str) -> None:
    p = subprocess.run([str(LAB_DIR / "power"), action, host], capture_output=True, text=True)
    if p.returncode != 0:
        raise LabError(p.stderr.strip())
    log(p.stdout.strip())


def incident() -> None:
    topo = current_topology() or (_ for _ in ()).throw(LabError("no lab is up"))
    osd_host = hosts_with(topo, "ceph_osd")[-1]["name"]
    ids = sorted(int(d.rsplit("-", 1)[1]) for d in hexec(osd_host, "ls -d /var/lib/ceph/osd/ceph-*").stdout.split())
    units = {osd_host: [f"ceph-osd@{ids[-1]}"]}
    for h in hosts_with(topo, "ceph_mds"):
        units.setdefault(h["name"], []).append(f"ceph-mds@{h['name']}")
    for host, us in units.items():
        hexec(host, "systemctl disable -q " + " ".join(us))
        log(f"{host}: disabled {' '.join(us)} (still running)")
    RECORD.write_text(json.dumps(units) + "\n")
    names = [h["name"] for h in topo["hosts"]]
    parallel(lambda n: _power("kill", n), names)
    parallel(lambda n: _power("on", n), names)
    log("power is back; watch `make lab-status` and `kubectl get events -A` (FailedMount); `lab/bin/lab heal` fixes")


def heal() -> None:
    if not RECORD.exists():
        raise LabError(f"no incident recorded in {RECORD}")
    units = json.loads(RECORD.read_text())
    for host, us in units.items():
        hexec(host, "systemctl enable -q --now " + " ".join(us))
        log(f"{host}: enabled and started {' '.join(us)}")
    RECORD.unlink()
