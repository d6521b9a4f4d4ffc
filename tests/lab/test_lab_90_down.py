"""`lab down` leaves nothing behind: no container, no network or bridge, no process, no NAT rule.

Runs when the tests brought the lab up themselves (CI), or with LAB_TEST_DOWN=1; LAB_KEEP=1 skips it.
"""
import os
import subprocess

import pytest

from labhelpers import INSTANCE, STATE, lab_cmd, podman_env


def test_lab_down_leaves_nothing(lab):
    if os.environ.get("LAB_KEEP") == "1" or not (lab["_started_by_tests"] or os.environ.get("LAB_TEST_DOWN") == "1"):
        pytest.skip("lab was already running before the tests (LAB_TEST_DOWN=1 to tear it down)")
    p = lab_cmd("down")
    assert p.returncode == 0, p.stdout + p.stderr
    env = podman_env()
    out = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip() == ""
    nets = subprocess.run(["podman", "network", "ls", "--format", "{{.Name}}"], capture_output=True, text=True,
                          env=env).stdout.split()
    assert "blackstart-lab" not in nets
    vols = subprocess.run(["podman", "volume", "ls", "--format", "{{.Name}}"], capture_output=True, text=True,
                          env=env).stdout.split()
    assert not vols, vols
    assert subprocess.run(["ip", "link", "show", f"bslab{INSTANCE}"], capture_output=True).returncode != 0
    # no live process belongs to the lab (zombies of conmon are not processes that run; see lab/README.md)
    ps = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout.splitlines()
    live = [line for line in ps if not line.lstrip().startswith("Z") and str(STATE) in line]
    assert not live, live
    nat = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    assert f"10.213.{INSTANCE}." not in nat
    assert not (STATE / "ssh").exists() and not (STATE / "pki").exists()
