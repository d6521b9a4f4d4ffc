# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fault matrix runs on the incident lab (3 Ceph hosts, 3 masters with etcd, 2 workers). Each scenario starts
from a healthy lab with no record, and must end with the lab healthy again (or a named refusal that changed
nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import faultlab  # noqa: E402  pylint: disable=wrong-import-position


def pytest_configure(config):
    config.addinivalue_line('markers', 'tier: in the tier that make test runs (every scenario kind once)')


def clear_operator_marks():
    """Unset every OSD flag and uncordon every node (what a scenario set as the operator, or left by a failure)."""
    for flag in faultlab.osd_flags():
        faultlab.ssh(faultlab.live_mon(), *(faultlab.CEPH + ['osd', 'unset', flag]))
    for node in faultlab.cordoned():
        faultlab.kubectl('uncordon', node)


@pytest.fixture(scope='session')
def lab():
    if (faultlab.REPO / 'lab' / '.state' / 'topology.json').exists():
        if faultlab.record_path().exists():
            # a cycle left half-way (a failed run before this one): its filesystems are down, its hosts maybe off,
            # so lab-up would never find the lab healthy; power_on.yml with that record is how to recover
            faultlab.play('power_on', tag='recover-lab')
        try:  # a running lab left with flags or cordons never becomes healthy for lab-up
            clear_operator_marks()
        except (AssertionError, subprocess.SubprocessError, StopIteration, ValueError):
            pass
    p = subprocess.run(['make', 'lab-up', 'TOPOLOGY=incident'], cwd=str(faultlab.REPO), capture_output=True, text=True,
                       timeout=1800, check=False)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return faultlab.topology()


@pytest.fixture()
def fresh(lab):
    """A healthy lab with no record and no operator flag or cordon; what a scenario leaves is its own to assert."""
    del lab
    if faultlab.healthy(allow=['OSDMAP_FLAGS']) is not None:
        # an earlier scenario failed half-way: power_on.yml (with the record it left) is how to recover
        faultlab.play('power_on', tag='recover')
    clear_operator_marks()
    faultlab.clear_records()
    faultlab.wait_healthy(600)
    yield
    clear_operator_marks()
