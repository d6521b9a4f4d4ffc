# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""After power_off.yml then power_on.yml on the lab (molecule/default)."""

from __future__ import annotations

import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'shared'))

import labcheck  # noqa: E402  pylint: disable=wrong-import-position

WORKER_UNITS = ['kubelet', 'kube-proxy', 'containerd']
MASTER_UNITS = ['kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']
CEPH_UNITS = ['ceph-mds@', 'ceph-osd@', 'ceph-mgr@', 'ceph-mon@']


def test_ceph_is_healthy_and_only_the_operators_flag_is_left():
    health = labcheck.ceph('health detail')
    assert set(health['checks']) <= {'OSDMAP_FLAGS'}, health['checks']
    flags = set(labcheck.ceph('osd dump')['flags_set'])
    assert 'noout' in flags, 'the noout set by hand before the power-off must survive'
    assert not flags & {'norecover', 'norebalance', 'nobackfill', 'nodown', 'pauserd', 'pausewr'}, flags
    pgs = labcheck.ceph('pg stat')
    # active+clean, whatever else a PG is doing (scrubs start soon after OSDs boot)
    states = [s['name'] for s in pgs['pg_summary']['num_pg_by_state']]
    assert pgs['pg_ready'] and all({'active', 'clean'} <= set(s.split('+')) for s in states), states


def test_every_osd_booted_after_the_power_off():
    epoch = labcheck.last_state()['ceph']['osdmap_epoch']
    osds = labcheck.ceph('osd dump')['osds']
    assert osds and all(o['up'] == 1 and o['in'] == 1 and o['up_from'] > epoch for o in osds), osds


def test_cephfs_is_active():
    fs = labcheck.ceph('fs dump')['filesystems'][0]['mdsmap']
    states = [i['state'] for i in fs['info'].values()]
    assert fs['max_mds'] >= 1 and 'up:active' in states and not fs['failed']


def test_nodes_ready_and_cordons_kept():
    workers = labcheck.groups()['k8s_workers']
    nodes = dict((n['metadata']['name'], n) for n in labcheck.kubectl('get', 'nodes')['items'])
    for name in workers:
        ready = [c for c in nodes[name]['status']['conditions'] if c['type'] == 'Ready'][0]
        assert ready['status'] == 'True', (name, ready)
    assert nodes[workers[-1]]['spec'].get('unschedulable') is True, 'the hand-cordoned node must stay cordoned'
    for name in workers[:-1]:
        assert not nodes[name]['spec'].get('unschedulable'), name + ' was cordoned by the power-off: uncordoned'


def test_pvcs_bound_and_pods_running():
    pvcs = labcheck.kubectl('get', 'pvc', '-A')['items']
    assert pvcs and all(p['status']['phase'] == 'Bound' for p in pvcs), [(p['metadata']['name'], p['status']) for p in pvcs]
    pods = labcheck.kubectl('get', 'pods', '-A')['items']
    assert pods and all(p['status']['phase'] == 'Running' for p in pods), [(p['metadata']['name'], p['status']['phase']) for p in pods]


def test_workload_data_checksums():
    workers = labcheck.groups()['k8s_workers']
    pvs = [p['spec']['volumeName'] for p in labcheck.kubectl('get', 'pvc', '-A')['items']]
    for pv in pvs:
        out = labcheck.host(workers[0]).run('verify-volume --pv %s' % pv)
        assert out.rc == 0, (pv, out.stdout, out.stderr)


def test_etcd_snapshot_copied_to_the_controller_privately():
    record = labcheck.last_state()['control_plane']
    copy = record['etcd_snapshot_copy']
    # beside the record, out of the inventory directory (Ansible read it as inventory there) and git-ignored
    assert os.path.dirname(copy) == os.path.dirname(labcheck.state_file()), copy
    assert not copy.startswith(os.path.join(labcheck.PROJECT, 'inventories')), copy
    assert os.stat(copy).st_mode & 0o777 == 0o600, oct(os.stat(copy).st_mode)
    assert os.stat(os.path.dirname(copy)).st_mode & 0o777 == 0o700, oct(os.stat(os.path.dirname(copy)).st_mode)
    with open(copy, 'rb') as f:
        local = hashlib.sha1(f.read()).hexdigest()
    out = labcheck.host(record['etcd_snapshot_host']).run('sha1sum %s' % record['etcd_snapshot'])
    assert out.rc == 0, (record, out.stdout, out.stderr)
    remote = out.stdout.split()[0]
    assert local == remote == record['etcd_snapshot_sha1'] and os.path.getsize(copy) > 0


def test_stop_order_workers_then_masters_then_ceph():
    # Only the power-off's own window: the power-on that followed may stop and start units for its own reasons.
    window = [labcheck.utc_timestamp(labcheck.last_state()['power_off'][k]) for k in ('started', 'completed')]
    g = labcheck.groups()
    workers = [t for h in g['k8s_workers'] for t in labcheck.stop_times(h, WORKER_UNITS, *window)]
    masters = [t for h in g['k8s_control_plane'] for t in labcheck.stop_times(h, MASTER_UNITS, *window)]
    cephs = [t for h in sorted(set(g['ceph_mon'] + g['ceph_osd'])) for t in labcheck.stop_times(h, CEPH_UNITS, *window)]
    assert workers and masters and cephs
    assert max(workers) < min(masters) < min(cephs), (max(workers), min(masters), min(cephs))


def test_power_on_again_changes_nothing():
    changed = labcheck.power_on_again()
    assert changed and all(v == 0 for v in changed.values()), changed
