# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The readers on every captured Ceph 16.2 state, and on samples of every release from Jewel to Tentacle."""

from __future__ import annotations

import glob
import json
import os

import pytest

from ansible_collections.blackstart.cluster.plugins.module_utils import _ceph as ceph

from tests.unit.ceph_fakes import RELEASES, STATES, load

ALIVE = [s for s in STATES if s not in ('mon_no_quorum', 'mons_down')]


def release_files(command):
    return sorted(glob.glob(os.path.join(RELEASES, '*', command + '__*.json')))


def load_path(path):
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------- quorum

def test_quorum_healthy():
    q = ceph.read_quorum(load('healthy', 'quorum_status'))
    assert q['mons'] == ['a', 'b', 'c']
    assert q['quorum'] == ['a', 'b', 'c']
    assert q['leader'] == 'a'


def test_quorum_one_down_capture_raced_the_election():
    # quorum_status was read 0.3 s after mon.c stopped: the quorum still listed it. `mon stat`, read a few
    # seconds later, shows the new quorum a,b. A gate must keep reading, not trust one early answer.
    q = ceph.read_quorum(load('mon_one_down', 'quorum_status'))
    assert q['mons'] == ['a', 'b', 'c']
    assert q['quorum'] == ['a', 'b', 'c']
    assert [m['name'] for m in load('mon_one_down', 'mon_stat')['quorum']] == ['a', 'b']


@pytest.mark.parametrize('state', ['healthy', 'mon_no_quorum'])
def test_mon_status_from_admin_socket(state):
    q = ceph.read_quorum(load(state, 'mon_status_asok'))
    if state == 'healthy':
        assert q['quorum'] == ['a', 'b', 'c']
    else:
        assert q['quorum'] == []
        assert q['state'] == 'probing'


@pytest.mark.parametrize('path', release_files('quorum_status') + release_files('mon_status'))
def test_quorum_every_release(path):
    q = ceph.read_quorum(load_path(path))
    assert q['mons'], path
    assert q['quorum'] and set(q['quorum']) <= set(q['mons']), path


# ---------------------------------------------------------------------------------------------- osd dump

EXPECTED_OSDS = {
    # state: (up ids, flags beyond the defaults, up_from per osd)
    'healthy': ({0, 1, 2}, set(), [7, 34, 13]),
    'osds_down_1': ({0, 1}, set(), [7, 34, 13]),
    'osds_down_all': (set(), set(), [7, 34, 49]),
    'flags_set': ({0, 1, 2}, {'noout', 'norebalance', 'norecover', 'nobackfill', 'nodown', 'pause'}, [57, 59, 61]),
    'osds_stopped_with_flags': ({0, 1, 2}, {'noout', 'norebalance', 'norecover', 'nobackfill', 'nodown', 'pause'},
                                [57, 59, 61]),
    'osds_started_flags': ({0, 1, 2}, {'noout', 'norebalance', 'norecover', 'nobackfill', 'nodown', 'pause'},
                           [88, 90, 92]),
    'mon_only': (set(), set(), [88, 90, 92]),
}
DEFAULT_FLAGS = {'sortbitwise', 'recovery_deletes', 'purged_snapdirs', 'pglog_hardlimit'}


@pytest.mark.parametrize('state', sorted(EXPECTED_OSDS))
def test_osd_dump(state):
    d = ceph.read_osd_dump(load(state, 'osd_dump'))
    up, flags, up_from = EXPECTED_OSDS[state]
    assert {o['id'] for o in d['osds'] if o['up']} == up
    assert d['flags'] == DEFAULT_FLAGS | flags | ({'pauserd', 'pausewr'} if 'pause' in flags else set())
    assert [o['up_from'] for o in d['osds']] == up_from
    assert all(o['exists'] and o['in'] for o in d['osds'])
    assert d['modified'] > 1.7e9


def test_osd_dump_luminous_sample_flags_string_and_autoout():
    d = ceph.read_osd_dump(load_path(release_files('osd_dump')[0]))
    assert 'sortbitwise' in d['flags']
    down = [o for o in d['osds'] if not o['up']]
    assert down and all(o['exists'] for o in down)


def test_flags_string_and_pause_pair():
    d = ceph.read_osd_dump({'epoch': 3, 'flags': 'pauserd,pausewr,noout', 'osds': []})
    assert d['flags'] == {'pauserd', 'pausewr', 'pause', 'noout'}
    assert 'pause' not in ceph.read_osd_dump({'flags': 'pauserd', 'osds': []})['flags']


# ---------------------------------------------------------------------------------------------- osd tree

def test_osd_tree_hosts():
    assert ceph.read_osd_tree(load('healthy', 'osd_tree')) == {0: 'vm', 1: 'vm', 2: 'vm'}


@pytest.mark.parametrize('path', release_files('osd_tree'))
def test_osd_tree_every_release(path):
    hosts = ceph.read_osd_tree(load_path(path))
    assert hosts and all(isinstance(k, int) and k >= 0 for k in hosts), path
    assert any(v for v in hosts.values()), path


def test_osd_tree_stray_osd_has_no_host():
    tree = {'nodes': [{'id': -1, 'type': 'root', 'name': 'default', 'children': []}],
            'stray': [{'id': 7, 'name': 'osd.7', 'type': 'osd'}]}
    assert ceph.read_osd_tree(tree) == {7: None}


# ---------------------------------------------------------------------------------------------- health

@pytest.mark.parametrize('state', ALIVE)
def test_health_detail_matches_status(state):
    h = ceph.read_health(load(state, 'health_detail'))
    s = load(state, 'status')['health']
    assert h['status'] == s['status']
    assert set(h['checks']) == set(s['checks'])


def test_health_detail_mds_down():
    h = ceph.read_health(load('mds_down', 'health_detail'))
    assert h['status'] == 'HEALTH_ERR'
    assert h['checks']['MDS_ALL_DOWN']['severity'] == 'HEALTH_ERR'
    assert h['checks']['MDS_ALL_DOWN']['detail'] == ['fs cephfs is offline because no MDS is active for it.']


@pytest.mark.parametrize('path', release_files('health') + release_files('health_detail'))
def test_health_every_release(path):
    h = ceph.read_health(load_path(path))
    assert h['status'] in ('HEALTH_OK', 'HEALTH_WARN', 'HEALTH_ERR'), path
    for chk in h['checks'].values():
        assert chk['severity'] in ('HEALTH_OK', 'HEALTH_WARN', 'HEALTH_ERR'), path


@pytest.mark.parametrize('path', release_files('status'))
def test_health_inside_status_every_release(path):
    h = ceph.read_health(load_path(path)['health'])
    assert h['status'] in ('HEALTH_OK', 'HEALTH_WARN', 'HEALTH_ERR'), path


def test_health_unknown_severity_counts_as_error():
    h = ceph.read_health(load_path(os.path.join(RELEASES, '10.2-jewel', 'status__charm-ceph-mon-crit.json'))['health'])
    assert h['status'] == 'HEALTH_ERR'
    assert 'HEALTH_ERR' in [c['severity'] for c in h['checks'].values()]


def test_health_jewel_summary_becomes_checks():
    h = ceph.read_health(load_path(os.path.join(RELEASES, '10.2-jewel', 'status__charm-ceph-mon-warn.json'))['health'])
    assert h['status'] == 'HEALTH_WARN'
    assert h['checks'] and all(c.startswith('LEGACY_') for c in h['checks'])


# ---------------------------------------------------------------------------------------------- pg stat

@pytest.mark.parametrize('state,ready,clean', [
    ('healthy', True, True),
    ('osds_down_1', True, False),
    ('recovering', True, False),
    ('mon_mgr_flags', False, False),
    ('mon_mgr', False, False),
    ('osds_stopped_with_flags', True, True),  # the stale digest: why pg stat alone is not evidence
])
def test_pg_stat(state, ready, clean):
    p = ceph.read_pg_stat(load(state, 'pg_stat'))
    assert p['pg_ready'] is ready
    assert p['all_clean'] is clean
    assert p['num_pgs'] == 25


def test_pg_stat_pre_pacific_shape():
    p = ceph.read_pg_stat(load_path(glob.glob(os.path.join(RELEASES, 'unknown', 'pg_stat__*.json'))[0]))
    assert p['pg_ready'] is None and p['num_pgs'] == 320 and p['all_clean']


@pytest.mark.parametrize('name,clean', [
    ('active+clean', True), ('active+clean+scrubbing+deep', True), ('active+clean+laggy', False),
    ('stale+active+clean', False), ('active+undersized+degraded', False), ('unknown', False), ('peering', False),
])
def test_pg_state_is_clean(name, clean):
    assert ceph.pg_state_is_clean(name) is clean


# ---------------------------------------------------------------------------------------------- fsmap

def test_fsmap_healthy():
    f = ceph.read_fsmap(load('healthy', 'fs_dump'))
    assert f['standbys'] == ['a']
    (fs,) = f['filesystems']
    assert fs['name'] == 'cephfs' and fs['max_mds'] == 1 and fs['joinable']
    assert fs['ranks'] == {0: {'name': 'b', 'state': 'up:active', 'laggy_since': None}}
    assert fs['failed'] == [] and fs['in'] == [0]


@pytest.mark.parametrize('state', ['mds_down', 'mds_not_started', 'mon_only_flags', 'osds_stopped_with_flags'])
def test_fsmap_failed_rank(state):
    f = ceph.read_fsmap(load(state, 'fs_dump'))
    (fs,) = f['filesystems']
    assert fs['ranks'] == {} and fs['failed'] == [0] and f['standbys'] == []


def test_fsmap_from_mds_stat_matches_fs_dump():
    assert ceph.read_fsmap(load('healthy', 'mds_stat')) == ceph.read_fsmap(load('healthy', 'fs_dump'))


@pytest.mark.parametrize('path', release_files('fs_dump') + release_files('mds_stat') + release_files('fs_get'))
def test_fsmap_every_release(path):
    f = ceph.read_fsmap(load_path(path))
    for fs in f['filesystems']:
        assert fs['name'] and fs['max_mds'] >= 1, path
        assert isinstance(fs['joinable'], bool)
        for r in fs['ranks'].values():
            assert r['state'].startswith('up:'), path


def test_fsmap_quincy_two_filesystems_and_flags_state():
    f = ceph.read_fsmap(load_path(os.path.join(RELEASES, '17.2-quincy', 'fs_dump__rook-mds-test-2FS-22MDS.json')))
    assert len(f['filesystems']) == 2
    assert all(fs['joinable'] for fs in f['filesystems'])


def test_fsmap_not_joinable_bit_and_flags_state():
    base = {'fs_name': 'x', 'max_mds': 1, 'in': [0], 'up': {}, 'failed': [0], 'info': {}}
    assert not ceph.read_fsmap({'mdsmap': dict(base, flags=19)})['filesystems'][0]['joinable']
    assert ceph.read_fsmap({'mdsmap': dict(base, flags=18)})['filesystems'][0]['joinable']
    assert not ceph.read_fsmap({'mdsmap': dict(base, flags=18, flags_state={'joinable': False})})['filesystems'][0]['joinable']


# ---------------------------------------------------------------------------------------------- time

@pytest.mark.parametrize('text,expected', [
    ('2026-11-25T13:11:14.978906+0000', 1795612274.978906),
    ('2026-11-25T13:11:14Z', 1795612274.0),
    ('2026-11-25 14:11:14.5+0100', 1795612274.5),
    ('0.000000', None),
    (1795612274, 1795612274.0),
])
def test_parse_ceph_time(text, expected):
    got = ceph.parse_ceph_time(text)
    assert got == pytest.approx(expected) if expected else got is None


def test_parse_ceph_time_rejects_garbage():
    with pytest.raises(ValueError):
        ceph.parse_ceph_time('yesterday')
