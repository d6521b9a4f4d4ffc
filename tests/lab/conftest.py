"""Fixtures for the lab tests: a running lab (brought up when absent), testinfra hosts over real SSH.

Environment:
  LAB_TOPOLOGY     topology to bring up when no lab runs (default: small)
  LAB_KEEP=1       never tear the lab down at the end
  LAB_TEST_DOWN=1  tear down (and check nothing is left) even when the lab was already running
"""
import json
import os

import pytest
import testinfra

from labhelpers import STATE, _lab_running, lab_cmd, with_role


@pytest.fixture(scope="session")
def lab():
    started = False
    if not _lab_running():
        p = lab_cmd("up", os.environ.get("LAB_TOPOLOGY", "small"))
        assert p.returncode == 0, f"lab up failed:\n{p.stdout}\n{p.stderr}"
        started = True
    else:
        p = lab_cmd("up", json.loads((STATE / "topology.json").read_text())["name"])
        assert p.returncode == 0, f"lab up (repair) failed:\n{p.stdout}\n{p.stderr}"
    topo = json.loads((STATE / "topology.json").read_text())
    topo["_started_by_tests"] = started
    yield topo


@pytest.fixture(scope="session")
def hosts(lab):
    key = STATE / "ssh" / "id_ed25519"
    extra = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    return {h["name"]: testinfra.get_host(f"ssh://root@{h['ip']}", ssh_identity_file=str(key),
                                          ssh_extra_args=extra, controlpersist=0)
            for h in lab["hosts"]}


@pytest.fixture(scope="session")
def mon(lab, hosts):
    return hosts[with_role(lab, "ceph_mon")[0]]


