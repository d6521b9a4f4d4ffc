"""Command line of lab/bin/lab."""
from __future__ import annotations

import argparse
import os
import subprocess

from . import core, images, incident, provision, status


def main(argv):
    ap = argparse.ArgumentParser(prog="lab", description="blackstart lab: podman hosts with systemd, Ceph, etcd, "
                                 "Kubernetes stand-ins. State: " + str(core.STATE_DIR))
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the images (no-op when up to date)")
    b.add_argument("--force", action="store_true")
    u = sub.add_parser("up", help="bring the lab up (idempotent)")
    u.add_argument("topology", nargs="?", default=os.environ.get("TOPOLOGY", "small"))
    u.add_argument("--no-workloads", action="store_true")
    sub.add_parser("down", help="remove hosts, network, per-lab keys; keep images")
    sub.add_parser("purge", help="down + remove images and all lab state")
    sub.add_parser("status", help="one screen: hosts, power, units, ceph, nodes")
    sub.add_parser("inventory", help="regenerate inventories/lab from the running lab")
    sub.add_parser("wait-healthy", help="wait until ceph, etcd (and k8s nodes) are healthy")
    sub.add_parser("incident", help="reproduce the incident: disable one OSD + the MDS units, kill all, start all")
    sub.add_parser("heal", help="enable --now the units the incident disabled")
    p = sub.add_parser("power", help="same as lab/power")
    p.add_argument("action", choices=["on", "off", "kill", "status"])
    p.add_argument("host")
    args = ap.parse_args(argv)
    core.write_podman_config()
    if args.cmd in ("build", "up", "down", "purge", "incident", "heal"):
        _lock(args.cmd)
    try:
        if args.cmd == "build":
            print(images.build(force=args.force))
        elif args.cmd == "up":
            provision.up(args.topology, workloads=not args.no_workloads)
        elif args.cmd == "down":
            provision.down()
        elif args.cmd == "purge":
            provision.down()
            if core.INSTANCE == 0:  # other instances only borrow the default lab's images
                images.purge()
            subprocess.run(["rm", "-rf", str(core.STATE_DIR)], check=False)
            core.log(f"removed {core.STATE_DIR}")
        elif args.cmd == "status":
            return status.show()
        elif args.cmd == "inventory":
            topo = core.current_topology() or core.die("no lab topology recorded; run make lab-up")
            provision.write_inventory(topo)
        elif args.cmd == "wait-healthy":
            topo = core.current_topology() or core.die("no lab topology recorded; run make lab-up")
            provision.wait_ceph_healthy(topo)
            provision.wait_etcd_healthy(topo)
            if provision.kubelab_available() and core.hosts_with(topo, "k8s_control_plane"):
                provision.wait_nodes_ready(topo)
                provision.wait_workloads()
        elif args.cmd == "incident":
            incident.incident()
        elif args.cmd == "heal":
            incident.heal()
            topo = core.current_topology()
            provision.wait_ceph_healthy(topo)
            if provision.kubelab_available() and core.hosts_with(topo, "k8s_control_plane"):
                provision.wait_nodes_ready(topo)
                provision.wait_workloads()
        elif args.cmd == "power":
            return subprocess.run([str(core.LAB_DIR / "power"), args.action, args.host]).returncode
    except core.LabError as e:
        core.die(str(e))
    return 0


_LOCK = None


def _lock(cmd: str) -> None:
    """One mutating lab command at a time per lab instance (two `lab up` at once would fight)."""
    import fcntl
    global _LOCK
    path = core.STATE_DIR / "lab.lock"
    _LOCK = open(path, "a+")
    try:
        fcntl.flock(_LOCK, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        _LOCK.seek(0)
        core.die(f"another lab command holds {path}: {_LOCK.read().strip() or '?'}; wait for it "
                 "(or use BLACKSTART_LAB_INSTANCE=N for a separate lab)")
    _LOCK.seek(0)
    _LOCK.truncate()
    _LOCK.write(f"pid {os.getpid()} `lab {cmd}` since {__import__('time').strftime('%H:%M:%S')}\n")
    _LOCK.flush()
