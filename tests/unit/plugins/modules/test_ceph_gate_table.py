# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every gate on every captured Ceph 16.2.15 state, through the real modules and a replaying `ceph`.

In check mode a gate is evaluated once: "pass" = ready, "wait" = not ready (it would keep waiting), and the
sentence it gives must name what is missing. This table is the acceptance of the Ceph gates.
"""

from __future__ import annotations

import pytest

from ansible_collections.blackstart.cluster.plugins.modules import (
    ceph_health_wait, ceph_mds_wait, ceph_osd_wait, ceph_quorum_wait)

from tests.unit.ceph_fakes import STATES, FakeCeph, run_module

GATES = {
    'quorum': (ceph_quorum_wait.main, {}),
    'osd': (ceph_osd_wait.main, {}),
    'mds': (ceph_mds_wait.main, {}),
    'health': (ceph_health_wait.main, {}),
    'health_pg': (ceph_health_wait.main, {'pg_clean': True}),
}

P = 'pass'
# state: decision per gate, or (decision, a fragment the first `missing` sentence must contain)
TABLE = {
    'healthy': dict(quorum=P, osd=P, mds=P, health=P, health_pg=P),
    'osds_down_1': dict(quorum=P, osd=('wait', 'osd.2 on vm is down'), mds=P,
                        health=('wait', 'OSD_DOWN'), health_pg=('wait', 'OSD_DOWN')),
    'recovering': dict(quorum=P, osd=P, mds=P, health=('wait', 'PG_DEGRADED'), health_pg=('wait', 'PG_DEGRADED')),
    'osds_down_all': dict(quorum=P, osd=('wait', 'osd.0 on vm is down'), mds=P,
                          health=('wait', 'OSD_DOWN'), health_pg=('wait', 'OSD_DOWN')),
    'osds_down_all_after_60s': dict(quorum=P, osd=('wait', 'osd.0 on vm is down'), mds=P,
                                    health=('wait', 'OSD_DOWN'), health_pg=('wait', 'OSD_DOWN')),
    # the daemons run and say `active` themselves: nodown does not matter then
    'flags_set': dict(quorum=P, osd=P, mds=P,
                      health=('wait', 'OSDMAP_FLAGS'), health_pg=('wait', 'OSDMAP_FLAGS')),
    'mds_down': dict(quorum=P, osd=P, mds=('wait', 'fs cephfs rank 0 has failed'),
                     health=('wait', 'FS_DEGRADED'), health_pg=('wait', 'FS_DEGRADED')),
    'mds_not_started': dict(quorum=P, osd=P, mds=('wait', 'fs cephfs rank 0 has failed'),
                            health=('wait', 'FS_DEGRADED'), health_pg=('wait', 'FS_DEGRADED')),
    'osds_stopped_with_flags': dict(quorum=P, osd=('wait', 'its daemon does not answer'), mds=('wait', 'rank 0 has failed'),
                                    health=('wait', 'FS_DEGRADED'), health_pg=('wait', 'FS_DEGRADED')),
    'mon_only_flags': dict(quorum=P, osd=('wait', 'its daemon does not answer'), mds=('wait', 'rank 0 has failed'),
                           health=('wait', 'FS_DEGRADED'), health_pg=('wait', 'could not read the state')),
    'mon_mgr_flags': dict(quorum=P, osd=('wait', 'its daemon does not answer'), mds=('wait', 'rank 0 has failed'),
                          health=('wait', 'FS_DEGRADED'), health_pg=('wait', 'FS_DEGRADED')),
    'osds_started_flags': dict(quorum=P, osd=P, mds=('wait', 'rank 0 has failed'),
                               health=('wait', 'FS_DEGRADED'), health_pg=('wait', 'FS_DEGRADED')),
    'mon_only': dict(quorum=P, osd=('wait', 'osd.0 on vm is down'), mds=('wait', 'rank 0 has failed'),
                     health=('wait', 'FS_DEGRADED'), health_pg=('wait', 'could not read the state')),
    'mon_mgr': dict(quorum=P, osd=('wait', 'osd.0 on vm is down'), mds=('wait', 'rank 0 has failed'),
                    health=('wait', 'FS_DEGRADED'), health_pg=('wait', 'FS_DEGRADED')),
    # the capture raced the election: every command still saw quorum a,b,c and HEALTH_OK
    'mon_one_down': dict(quorum=P, osd=P, mds=P, health=P, health_pg=P),
    'mon_no_quorum': dict(quorum=('wait', 'no quorum'), osd=('wait', 'timed out'), mds=('wait', 'timed out'),
                          health=('wait', 'timed out'), health_pg=('wait', 'timed out')),
    'mons_down': dict(quorum=('wait', 'no quorum'), osd=('wait', 'timed out'), mds=('wait', 'timed out'),
                      health=('wait', 'timed out'), health_pg=('wait', 'timed out')),
}

# The states the issue names: no gate may pass there, except a quorum gate where the quorum is real.
NOT_READY = ['osds_stopped_with_flags', 'mon_only_flags', 'mon_mgr_flags', 'mds_down', 'mds_not_started',
             'mon_no_quorum', 'mons_down']


def test_table_covers_every_state():
    assert sorted(TABLE) == STATES


@pytest.mark.parametrize('state,gate', [(s, g) for s in sorted(TABLE) for g in sorted(GATES)])
def test_gate_decision(state, gate, monkeypatch, capsys):
    main, args = GATES[gate]
    code, result = run_module(main, dict(args, timeout=0), FakeCeph(state), monkeypatch, capsys, check_mode=True)
    assert code == 0, result  # check mode never fails for "not ready"
    expected = TABLE[state][gate]
    if expected == P:
        assert result['ready'] is True, result['msg']
        assert result['missing'] == []
    else:
        decision, fragment = expected
        assert result['ready'] is False
        assert fragment in result['missing'][0], result['missing']
        assert result['msg'].startswith(('Ceph', 'CephFS')) and 'not ready' in result['msg']


@pytest.mark.parametrize('state', NOT_READY)
def test_no_state_of_the_incident_passes_the_gate_chain(state, monkeypatch, capsys):
    passed = []
    for gate in ('osd', 'mds', 'health'):
        main, args = GATES[gate]
        result = run_module(main, dict(args, timeout=0), FakeCeph(state), monkeypatch, capsys, check_mode=True)[1]
        passed.append(result['ready'])
    assert not all(passed)
    # and the gate about the broken part never passes
    assert not passed[1] and not passed[2]


@pytest.mark.parametrize('state', sorted(TABLE))
def test_timeout_fails_naming_what_is_missing(state, monkeypatch, capsys):
    if all(v == P for v in TABLE[state].values()):
        pytest.skip('every gate passes here')
    for gate, expected in sorted(TABLE[state].items()):
        if expected == P:
            continue
        main, args = GATES[gate]
        code, result = run_module(main, dict(args, timeout=0), FakeCeph(state), monkeypatch, capsys)
        assert code == 1
        assert result['failed'] and expected[1] in result['msg']
        assert result['ready'] is False and result['attempts'] == 1
