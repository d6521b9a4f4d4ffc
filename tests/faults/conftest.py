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


@pytest.fixture(scope='session')
def lab():
    p = subprocess.run(['make', 'lab-up', 'TOPOLOGY=incident'], cwd=str(faultlab.REPO), capture_output=True, text=True,
                       timeout=1800, check=False)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return faultlab.topology()


@pytest.fixture()
def fresh(lab):
    """A healthy lab with no record and no operator flag or cordon; what a scenario leaves is its own to assert."""
    del lab
    for flag in faultlab.osd_flags():
        faultlab.ssh(faultlab.live_mon(), *(faultlab.CEPH + ['osd', 'unset', flag]))
    for node in faultlab.cordoned():
        faultlab.kubectl('uncordon', node)
    faultlab.clear_records()
    faultlab.wait_healthy(600)
    yield
