# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""After the incident (hard power loss, OSD and MDS units not enabled) and power_on.yml (molecule/outage)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'shared'))

import labcheck  # noqa: E402  pylint: disable=wrong-import-position


def test_ceph_healthy_again():
    health = labcheck.ceph('health detail')
    assert health['status'] == 'HEALTH_OK', health['checks']
    osds = labcheck.ceph('osd dump')['osds']
    assert all(o['up'] == 1 and o['in'] == 1 for o in osds)


def test_mds_active_again():
    fs = labcheck.ceph('fs dump')['filesystems'][0]['mdsmap']
    assert 'up:active' in [i['state'] for i in fs['info'].values()]


def test_units_enabled_again():
    g = labcheck.groups()
    for name in sorted(set(g['ceph_osd'] + g['ceph_mds'])):
        h = labcheck.host(name)
        units = h.check_output("systemctl list-units --all --plain --no-legend 'ceph-osd@*' 'ceph-mds@*' | awk '{print $1}'")
        for unit in units.split():
            assert h.service(unit).is_enabled, '%s on %s must be enabled again' % (unit, name)
            assert h.service(unit).is_running, '%s on %s must run' % (unit, name)


def test_storage_consumers_and_data():
    pvcs = labcheck.kubectl('get', 'pvc', '-A')['items']
    assert pvcs and all(p['status']['phase'] == 'Bound' for p in pvcs)
    pods = labcheck.kubectl('get', 'pods', '-A')['items']
    assert pods and all(p['status']['phase'] == 'Running' for p in pods), [(p['metadata']['name'], p['status']['phase']) for p in pods]
    worker = labcheck.groups()['k8s_workers'][0]
    for pvc in pvcs:
        out = labcheck.host(worker).run('verify-volume --pv %s' % pvc['spec']['volumeName'])
        assert out.rc == 0, (pvc['metadata']['name'], out.stdout, out.stderr)
