"""`make lab-status`: one screen with hosts, power, IPs, key units, ceph health, MDS, etcd, k8s nodes."""

from __future__ import annotations

import json

from . import provision
from .core import (STATE_DIR, LabError, container_state, current_topology, hexec, hosts_with, parallel)

SHORT = {"ceph_mon": "mon", "ceph_mgr": "mgr", "ceph_osd": "osd", "ceph_mds": "mds",
         "k8s_control_plane": "master", "etcd": "etcd", "k8s_workers": "worker"}


def host_units(h: dict) -> list[str]:
    n = h["name"]
    units = []
    if "ceph_mon" in h["roles"]:
        units.append(f"ceph-mon@{n}")
    if "ceph_mgr" in h["roles"]:
        units.append(f"ceph-mgr@{n}")
    if "ceph_osd" in h["roles"]:
        units.append("OSDS")
    if "ceph_mds" in h["roles"]:
        units.append(f"ceph-mds@{n}")
    if "etcd" in h["roles"]:
        units.append("etcd")
    units += provision.host_units(h)
    return units


def unit_states(h: dict) -> list[tuple[str, str, str]]:
    units = host_units(h)
    script = ("for u in " + " ".join(units) + "; do\n"
              "  if [ $u = OSDS ]; then for d in /var/lib/ceph/osd/ceph-*; do [ -d $d ] || continue; "
              "i=${d##*-}; echo ceph-osd@$i $(systemctl is-active ceph-osd@$i) $(systemctl is-enabled ceph-osd@$i "
              "2>/dev/null || echo -); done; continue; fi\n"
              "  echo $u $(systemctl is-active $u) $(systemctl is-enabled $u 2>/dev/null || echo -)\n"
              "done; echo SYSTEM $(systemctl is-system-running) -")
    p = hexec(h["name"], script, check=False, timeout=20)
    return [tuple(line.split()[:3]) for line in p.stdout.splitlines() if len(line.split()) >= 3]


def show() -> int:
    topo = current_topology()
    if topo is None:
        print(f"lab: not up (no topology in {STATE_DIR})")
        return 1
    print(f"blackstart lab — topology {topo['name']} — state {STATE_DIR}")
    states = {h["name"]: container_state(h["name"]) for h in topo["hosts"]}
    running = [h for h in topo["hosts"] if states[h["name"]] == "running"]
    units = dict(zip([h["name"] for h in running], parallel(unit_states, running)))
    print(f"{'HOST':9} {'POWER':8} {'IP':12} {'SYSTEM':9} {'ROLES':28} UNITS (active/enabled)")
    for h in topo["hosts"]:
        n = h["name"]
        power = {"running": "on", None: "absent"}.get(states[n], "off")
        us = units.get(n, [])
        system = next((u[1] for u in us if u[0] == "SYSTEM"), "-")
        roles = ",".join(SHORT[r] for r in h["roles"])
        cells = []
        for u, a, e in us:
            if u == "SYSTEM":
                continue
            flag = "ok" if (a == "active" and e == "enabled") else f"{a}/{e}"
            cells.append(f"{u.replace('.service', '')}:{flag}")
        print(f"{n:9} {power:8} {h['ip']:12} {system:9} {roles:28} {' '.join(cells)}")
    mons = [h["name"] for h in hosts_with(topo, "ceph_mon") if states[h["name"]] == "running"]
    if mons:
        try:
            s = provision.ceph_summary(mons[0])
            print(f"ceph: {s['health']} {' '.join(s['checks'])} | osds up {s['osds'][0]}/{s['osds'][1]} | "
                  f"mds active {','.join(s['mds_active']) or '-'} standby {','.join(s['mds_standby']) or '-'}"
                  + (f" LAGGY {','.join(s['mds_laggy'])}" if s["mds_laggy"] else "")
                  + (f" {','.join(s['mds_other'])}" if s["mds_other"] else "")
                  + (f" FAILED ranks {s['mds_failed_ranks']}" if s["mds_failed_ranks"] else "") + " | "
                  "pgs " + ", ".join(f"{x['count']} {x['state_name']}" for x in s["pgs"]))
        except LabError as e:
            print(f"ceph: unreachable ({str(e).splitlines()[0][:100]})")
    else:
        print("ceph: no mon host running")
    etcds = [h["name"] for h in hosts_with(topo, "etcd") if states[h["name"]] == "running"]
    if etcds:
        p = provision.etcdctl(etcds[0], "endpoint health -w json", check=False)
        try:
            data = json.loads(p.stdout)
            print("etcd: " + " ".join(f"{e['endpoint'].split('//')[1].split(':')[0]}="
                                      f"{'healthy' if e.get('health') else 'UNHEALTHY'}" for e in data))
        except ValueError:
            print(f"etcd: unreachable ({(p.stderr or '').strip().splitlines()[-1:]})")
    if hosts_with(topo, "k8s_control_plane") and not provision.kubelab_available():
        print("k8s: stand-ins (lab/k8s) not installed yet")
    elif hosts_with(topo, "k8s_control_plane"):
        try:
            p = provision.kubectl("get", "nodes", "-o", "wide", check=False, timeout=30)
            out = p.stdout.strip() if p.returncode == 0 else (p.stderr.strip().splitlines() or ["?"])[-1]
            print("k8s nodes:\n  " + "\n  ".join(out.splitlines()) if out else "k8s: no answer")
            p = provision.kubectl("get", "pvc,pods", "-A", "--no-headers", check=False, timeout=30)
            if p.returncode == 0 and p.stdout.strip():
                print("k8s workloads:\n  " + "\n  ".join(p.stdout.strip().splitlines()[:12]))
        except LabError as e:
            print(f"k8s: {str(e).splitlines()[0]}")
    return 0
