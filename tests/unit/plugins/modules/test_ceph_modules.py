# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module behaviour: exact commands, bad input, idempotence, check mode, evidence, transient errors."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import pytest

from ansible_collections.blackstart.cluster.plugins.module_utils import _wait
from ansible_collections.blackstart.cluster.plugins.modules import (
    ceph_health_wait, ceph_mds_wait, ceph_osd_flags, ceph_osd_wait, ceph_quorum_wait)

from tests.unit.ceph_fakes import FakeCeph, load, run_module

TIMEOUT = shutil.which('timeout')
MAPS_FLAGS = ['nobackfill', 'nodown', 'noout', 'norebalance', 'norecover', 'pause', 'pauserd', 'pausewr']
DEFAULT_FLAGS = ['pglog_hardlimit', 'purged_snapdirs', 'recovery_deletes', 'sortbitwise']


@pytest.fixture
def run(monkeypatch, capsys):
    def _run(main, args, fake, check_mode=False):
        return run_module(main, args, fake, monkeypatch, capsys, check_mode=check_mode)
    return _run


@pytest.fixture
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(_wait.time, 'sleep', slept.append)
    return slept


# ------------------------------------------------------------------------------------------- the CLI

def test_exact_command_line(run, tmp_path):
    conf = tmp_path / 'backup.conf'
    keyring = tmp_path / 'backup.client.bs.keyring'
    conf.write_text('[global]\n')
    keyring.write_text('[client.bs]\n\tkey = not-on-the-command-line\n')
    fake = FakeCeph('healthy')
    code, result = run(ceph_quorum_wait.main, dict(cluster='backup', conf=str(conf), user='client.bs',
                                                   keyring=str(keyring), cli_timeout=7), fake)
    assert code == 0 and result['ready']
    prefix = [TIMEOUT, '-k', '5', '19'] if TIMEOUT else []
    assert fake.calls == [prefix + [
        '/bin/true', '--cluster', 'backup', '--conf', str(conf), '--name', 'client.bs', '--keyring', str(keyring),
        '--connect-timeout', '7', '--rados_mon_op_timeout=7', '--rados_osd_op_timeout=7',
        'quorum_status', '--format', 'json']]
    assert 'not-on-the-command-line' not in json.dumps(result) + json.dumps(fake.calls)


def test_user_id_form(run):
    fake = FakeCeph('healthy')
    run(ceph_quorum_wait.main, dict(user='admin'), fake)
    assert fake.calls[0][fake.calls[0].index('--id') + 1] == 'admin'


@pytest.mark.parametrize('args,fragment', [
    (dict(keyring='/nonexistent/ceph.client.admin.keyring'),
     'keyring file /nonexistent/ceph.client.admin.keyring does not exist'),
    (dict(conf='/nonexistent/ceph.conf'), 'conf file /nonexistent/ceph.conf does not exist'),
    (dict(executable='ceph-not-installed-here'), "ceph CLI 'ceph-not-installed-here' not found"),
    (dict(cli_timeout=0), 'cli_timeout must be at least 1 second'),
])
def test_bad_client_input_fails_before_running_anything(run, args, fragment):
    for main in (ceph_quorum_wait.main, ceph_osd_flags.main):
        fake = FakeCeph('healthy')
        call = dict(args, flags=['noout']) if main is ceph_osd_flags.main else args
        code, result = run(main, call, fake)
        assert code == 1 and fragment in result['msg']
        assert fake.calls == []


def test_unreadable_keyring(run, tmp_path, monkeypatch):
    keyring = tmp_path / 'k'
    keyring.write_text('x')
    monkeypatch.setattr('os.access', lambda path, mode: path != str(keyring))
    code, result = run(ceph_quorum_wait.main, dict(keyring=str(keyring), executable='/bin/true'), FakeCeph('healthy'))
    assert code == 1 and 'is not readable by this user' in result['msg']


def test_non_json_output_is_a_clear_error(run):
    fake = FakeCeph('healthy', extra={('quorum_status',): (0, 'Usage: ceph ...\n', '')})
    code, result = run(ceph_quorum_wait.main, dict(timeout=30), fake)
    assert code == 1 and 'printed output that is not JSON' in result['msg']
    assert "Usage: ceph" in result['msg'] and result['cmd'][-3:] == ['quorum_status', '--format', 'json']
    assert len(fake.calls) == 1  # not retried: waiting will not fix it


def test_rejected_command_fails_at_once_naming_command_rc_stderr(run):
    fake = FakeCeph('healthy', extra={('fs', 'dump'): (22, '', "Error EINVAL: invalid command\n")})
    code, result = run(ceph_mds_wait.main, dict(timeout=30), fake)
    assert code == 1 and len(fake.calls) == 1
    assert '`' in result['msg'] and 'fs dump --format json` failed (rc=22): Error EINVAL: invalid command' in result['msg']
    assert 'check the Ceph release supports it' in result['msg']
    assert result['rc'] == 22 and result['stderr'] == 'Error EINVAL: invalid command'


@pytest.mark.parametrize('stderr,hint', [
    ('[errno 13] RADOS permission denied (error connecting to the cluster)', 'check the user and keyring options'),
    ('[errno 2] RADOS object not found (error connecting to the cluster)', 'could not find its keyring or config'),
])
def test_auth_and_keyring_errors_fail_at_once(run, no_sleep, stderr, hint):
    # Ceph says "error connecting to the cluster" for these too; a wrong key will not fix itself by waiting.
    fake = FakeCeph('healthy', extra={('health', 'detail'): (1, '', stderr)})
    code, result = run(ceph_health_wait.main, dict(timeout=30), fake)
    assert code == 1 and len(fake.calls) == 1 and no_sleep == []
    assert hint in result['msg'] and result['rc'] == 1


@pytest.mark.parametrize('rc,stderr,transient', [
    (1, 'timed out', True),
    (110, 'Error ETIMEDOUT: Connection timed out. Please check the client\'s permission and connection.', True),
    (1, '[errno 110] RADOS timed out (error connecting to the cluster)', True),
    (124, '', True),
    (1, '[errno 111] Connection refused', True),
    (1, '[errno 13] RADOS permission denied (error connecting to the cluster)', False),
    (22, 'Error EINVAL: invalid command', False),
    (2, 'Error ENOENT: there is no map for epoch 3', False),
])
def test_transient_classification(rc, stderr, transient):
    from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import is_transient
    assert is_transient(rc, stderr) is transient


def test_killed_by_outer_timeout_is_transient(run, no_sleep):
    answers = iter([(124, '', ''), (124, '', '')])
    fake = FakeCeph('healthy', extra={('pg', 'stat'): lambda words: next(answers, None) or (0, json.dumps(
        load('healthy', 'pg_stat')), '')})
    code, result = run(ceph_health_wait.main, dict(pg_clean=True, timeout=60), fake)
    assert code == 0 and result['ready'] and result['transient_count'] == 2
    assert 'was killed after 25s' in result['transient_errors'][0]


# ------------------------------------------------------------------------------------------- waiting

def test_quorum_comes_back(run, no_sleep):
    fake = FakeCeph(['mons_down', 'mon_no_quorum', 'healthy'], advance_on=('quorum_status',))
    code, result = run(ceph_quorum_wait.main, dict(timeout=60), fake)
    assert code == 0 and result['ready'] and result['attempts'] == 3 and result['transient_count'] == 2
    assert no_sleep == [0.25, 0.375]
    assert result['state']['quorum'] == ['a', 'b', 'c']


def test_quorum_timeout_names_the_expected_mons(run, no_sleep):
    code, result = run(ceph_quorum_wait.main, dict(timeout=0, mons=['a', 'b', 'c']), FakeCeph('mon_no_quorum'))
    assert code == 1
    assert 'no quorum: `ceph quorum_status` got no answer (rc=1: timed out); waiting for mon.a, mon.b, mon.c' in result['msg']


def test_quorum_unknown_mon_is_bad_input(run):
    code, result = run(ceph_quorum_wait.main, dict(mons=['a', 'ceph9'], timeout=60), FakeCeph('healthy'))
    assert code == 1 and 'mon ceph9 not in the monmap (mons: a, b, c)' in result['msg']


def test_quorum_min_mons(run):
    data = load('healthy', 'quorum_status')
    data['quorum_names'] = ['a', 'b']
    fake = FakeCeph('healthy', extra={('quorum_status',): (0, json.dumps(data), '')})
    assert run(ceph_quorum_wait.main, dict(min_mons=2), fake)[1]['ready']
    code, result = run(ceph_quorum_wait.main, dict(min_mons=3, timeout=0), fake)
    assert code == 1 and '2 of the expected mons in quorum, want 3' in result['msg'] and 'mon.c is not in quorum' in result['msg']
    code, result = run(ceph_quorum_wait.main, dict(timeout=0), fake)
    assert code == 1 and 'mon.c is not in quorum (quorum: a,b)' in result['msg']
    assert run(ceph_quorum_wait.main, dict(min_mons=0), fake)[1]['msg'] == 'min_mons must be at least 1'


def _quorum_of(*names):
    data = load('healthy', 'quorum_status')
    data['quorum_names'] = list(names)
    return FakeCeph('healthy', extra={('quorum_status',): (0, json.dumps(data), '')})


def test_quorum_absent_mons_may_stay_out(run):
    fake = _quorum_of('a', 'b')
    code, result = run(ceph_quorum_wait.main, dict(timeout=0), fake)
    assert code == 1 and 'mon.c is not in quorum (quorum: a,b): if its host is not coming back, pass the host in ' \
        'blackstart_absent_hosts' in result['msg']
    # a host name matches its mon by the short name; names that are no mon (a worker) are ignored
    code, result = run(ceph_quorum_wait.main, dict(timeout=0, absent_mons=['c.example.com', 'worker-03']), fake)
    assert code == 0 and result['ready'] and result['state']['absent_mons'] == ['c']
    assert result['state']['out_of_quorum'] == [] and 'degraded: mon.c absent, not waited on (out of quorum)' in result['msg']
    # absent, but every other mon must be there
    code, result = run(ceph_quorum_wait.main, dict(timeout=0, absent_mons=['b']), _quorum_of('a', 'b'))
    assert code == 1 and 'mon.c is not in quorum' in result['msg'] and 'mon.b' not in ' '.join(result['missing'])
    # min_mons keeps working beside it
    assert run(ceph_quorum_wait.main, dict(timeout=0, min_mons=2, absent_mons=['b']), _quorum_of('a', 'c'))[1]['ready']


def test_quorum_impossible_without_a_majority_fails_at_once(run, no_sleep):
    code, result = run(ceph_quorum_wait.main, dict(timeout=600, absent_mons=['b', 'c']), _quorum_of('a', 'b', 'c'))
    assert code == 1
    assert result['msg'].startswith('quorum impossible: with mon.b, mon.c absent, 1 of the 3 mons of the monmap remain '
                                    '(a) and a quorum needs 2: bring back 1 of mon.b, mon.c')
    assert no_sleep == []
    # with mons given, before running anything
    fake = FakeCeph('mon_no_quorum')
    code, result = run(ceph_quorum_wait.main, dict(mons=['a', 'b', 'c'], absent_mons=['a', 'b']), fake)
    assert code == 1 and 'quorum impossible' in result['msg'] and fake.calls == []


def test_quorum_lost_names_the_mons_and_suggests_absent_hosts(run):
    code, result = run(ceph_quorum_wait.main, dict(timeout=0, mons=['a', 'b', 'c'], absent_mons=['c']),
                       FakeCeph('mon_no_quorum'))
    assert code == 1
    assert 'waiting for mon.a, mon.b: start ceph-mon on a majority of mon hosts' in result['msg']
    assert '(declared absent: c); if a mon host is not answering and will not come back, pass it in ' \
        'blackstart_absent_hosts' in result['msg']


def test_power_on_sequence_osd_gate_waits_then_passes(run, no_sleep):
    # mons back with the flags set (osdmap lies) -> mgr back -> OSD daemons booted
    fake = FakeCeph(['mon_only_flags', 'mon_mgr_flags', 'osds_started_flags'], advance_on=('osd', 'dump'))
    code, result = run(ceph_osd_wait.main, dict(since_epoch=68, timeout=60), fake)
    assert code == 0 and result['ready'] and result['attempts'] == 3
    assert [o['up_from'] for o in result['state']['osds']] == [88, 90, 92]
    assert result['state']['num_fresh'] == 3


def test_osd_tree_read_once(run, no_sleep):
    fake = FakeCeph(['osds_down_1', 'osds_down_1', 'healthy'], advance_on=('osd', 'dump'))
    code, result = run(ceph_osd_wait.main, dict(timeout=60), fake)
    words = [tuple(c[c.index('--rados_osd_op_timeout=10') + 1:-2]) for c in fake.calls]
    assert code == 0 and words.count(('osd', 'tree')) == 1 and words.count(('osd', 'dump')) == 3


def _dump_at(epoch, when):
    return (0, json.dumps({'epoch': epoch, 'modified': when, 'osds': [], 'flags_set': []}), '')


def test_since_time_counts_only_osds_marked_up_after_it(run):
    extra = {('osd', 'dump', str(e)): _dump_at(e, '2026-11-25T13:11:1%d.0+0000' % (e % 10)) for e in (88, 90, 92)}
    extra.update({('osd', 'dump', str(e)): _dump_at(e, '2026-11-25T12:50:0%d.0+0000' % (e % 10)) for e in (57, 59, 61)})
    since = '2026-11-25T13:10:00Z'
    assert run(ceph_osd_wait.main, dict(since=since), FakeCeph('osds_started_flags', extra=extra))[1]['ready']
    code, result = run(ceph_osd_wait.main, dict(since=since, timeout=0), FakeCeph('osds_stopped_with_flags', extra=extra))
    assert code == 1
    assert 'osd.0 on vm is "up" in the map but was marked up before 2026-11-25T13:10:00Z (up_from epoch 57)' in result['msg']
    assert run(ceph_osd_wait.main, dict(since='1795611000', timeout=0),
               FakeCeph('osds_started_flags', extra=extra))[1]['ready']


STATUS = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'ceph-16.2', 'daemon', 'tell_osd_status.json')


def daemon_status(state, whoami=0):
    """`ceph tell osd.N status` as captured on the lab, with the daemon's state set."""
    with open(STATUS) as f:
        data = json.load(f)
    data.update(state=state, whoami=whoami)
    return 0, json.dumps(data), ''


def _old_maps():
    return {('osd', 'dump', str(e)): _dump_at(e, '2026-11-25T12:50:0%d.0+0000' % (e % 10)) for e in (57, 59, 61)}


def test_since_old_up_from_asks_the_daemon(run):
    # osd.0's host never rebooted (active: counts); osd.1 rebooted with the address its previous life has in the
    # map and the mons took its boot for a duplicate (booting: stuck); osd.2 does not answer (not running).
    extra = _old_maps()
    extra[('tell', 'osd.0', 'status')] = daemon_status('active', 0)
    extra[('tell', 'osd.1', 'status')] = daemon_status('booting', 1)
    code, result = run(ceph_osd_wait.main, dict(since='2026-11-25T13:10:00Z', timeout=0),
                       FakeCeph('osds_stopped_with_flags', extra=extra))
    assert code == 1 and not result['changed'] and result['marked_down'] == []
    assert result['missing'] == [
        'osd.1 on vm is "up" in the map but was marked up before 2026-11-25T13:10:00Z (up_from epoch 59): its daemon '
        'runs but is stuck booting - the mons took its boot for a duplicate of its previous life; restart the daemon '
        'on its host (a new process boots with a new address)',
        'osd.2 on vm is "up" in the map but was marked up before 2026-11-25T13:10:00Z (up_from epoch 61): its daemon '
        'does not answer, it is not running (nodown is set: the map keeps stopped OSDs "up"); start it on its host '
        '(systemctl start ceph-osd@2)']
    assert [(o['fresh'], o['daemon_state']) for o in result['state']['osds']] == [
        (True, 'active'), (False, 'booting'), (False, None)]
    assert result['state']['stuck_booting'] == [1]


def _stuck_extra():
    extra = _old_maps()
    extra.update({('osd', 'dump', str(e)): _dump_at(e, '2026-11-25T13:11:1%d.0+0000' % (e % 10)) for e in (88, 90, 92)})
    for i in range(3):
        extra[('tell', 'osd.%d' % i, 'status')] = daemon_status('booting', i)
    return extra


def test_stuck_booting_reported_at_once_for_the_caller_to_restart(run, no_sleep):
    fake = FakeCeph(['osds_stopped_with_flags'], extra=_stuck_extra())
    code, result = run(ceph_osd_wait.main, dict(since='2026-11-25T13:10:00Z', on_stuck_booting='report', timeout=600),
                       fake)
    assert code == 1 and not result['ready'] and result['state']['stuck_booting'] == [0, 1, 2]
    assert result['msg'].startswith('Ceph OSDs: stuck booting, restart their daemons: osd.0 on vm is "up" in the map')
    assert 'restart the daemon on its host (a new process boots with a new address)' in result['msg']
    assert [c for c in fake.calls if 'down' in c] == [], 'report changes nothing'
    # In check mode it is evaluated once, like any gate, and reported without failing.
    code, result = run(ceph_osd_wait.main, dict(since='2026-11-25T13:10:00Z', on_stuck_booting='report'),
                       FakeCeph(['osds_stopped_with_flags'], extra=_stuck_extra()), check_mode=True)
    assert code == 0 and result['state']['stuck_booting'] == [0, 1, 2] and not result['changed']


def test_mark_down_once_then_the_fresh_boot_passes(run, no_sleep):
    extra = _stuck_extra()
    downs = []

    def osd_down(words):
        downs.append(words)
        fake.advance()  # the OSDs boot again and are marked up afresh
        return 0, '', 'marked down osd.%s. ' % words[2]
    for i in range(3):
        extra[('osd', 'down', str(i))] = osd_down
    fake = FakeCeph(['osds_stopped_with_flags', 'osds_started_flags'], extra=extra)
    code, result = run(ceph_osd_wait.main, dict(since='2026-11-25T13:10:00Z', on_stuck_booting='mark_down', timeout=60),
                       fake)
    assert code == 0 and result['ready'] and result['changed']
    assert downs == [('osd', 'down', '0'), ('osd', 'down', '1'), ('osd', 'down', '2')]
    assert result['marked_down'] == [0, 1, 2] and 'marked down (stuck booting): osd.0, osd.1, osd.2' in result['msg']
    # Check mode predicts and writes nothing.
    downs[:] = []
    fake = FakeCeph(['osds_stopped_with_flags'], extra=extra)
    code, result = run(ceph_osd_wait.main, dict(since='2026-11-25T13:10:00Z', on_stuck_booting='mark_down'), fake,
                       check_mode=True)
    assert code == 0 and result['changed'] and result['marked_down'] == [0, 1, 2] and downs == []
    assert 'would mark down (stuck booting)' in result['msg']


def test_a_release_without_tell_status_falls_back_to_version(run):
    extra = _old_maps()
    for i in range(3):
        extra[('tell', 'osd.%d' % i, 'status')] = (22, '', 'Error EINVAL: unrecognized command')
        extra[('tell', 'osd.%d' % i, 'version')] = (0, '{"version": "12.2.13"}', '')
    code, result = run(ceph_osd_wait.main, dict(since='2026-11-25T13:10:00Z', timeout=0),
                       FakeCeph('osds_stopped_with_flags', extra=extra))
    assert code == 0 and [o['daemon_state'] for o in result['state']['osds']] == ['unknown'] * 3


def test_a_silent_daemon_is_asked_again_only_after_the_quiet_time():
    now = [100.0]
    asked = []

    def ask(osd_id):
        asked.append(osd_id)
        return None if now[0] < 120 else 'active'
    daemons = ceph_osd_wait.QuietDaemons(ask, quiet=15.0, clock=lambda: now[0])
    assert daemons(3) is None and daemons(3) is None and asked == [3]
    now[0] = 116.0
    assert daemons(3) is None and asked == [3, 3]
    now[0] = 131.5
    assert daemons(3) == 'active' and daemons(3) == 'active' and asked == [3, 3, 3, 3]


def test_since_trimmed_epoch_is_not_fresh(run):
    extra = {('osd', 'dump', str(e)): (2, '', 'Error ENOENT: there is no map for epoch %d' % e) for e in (88, 90, 92)}
    silent = dict(extra)
    silent.update({('tell', 'osd.%d' % i, 'status'): (1, '', 'Error ENXIO: problem getting command descriptions')
                   for i in range(3)})
    code, result = run(ceph_osd_wait.main, dict(since='2026-11-25T13:10:00Z', timeout=0),
                       FakeCeph('osds_started_flags', extra=silent))
    assert code == 1 and 'marked up before' in result['msg']
    # ...so the daemons are asked, and running ones count.
    code, result = run(ceph_osd_wait.main, dict(since='2026-11-25T13:10:00Z', timeout=0),
                       FakeCeph('osds_started_flags', extra=extra))
    assert code == 0 and [o['daemon_state'] for o in result['state']['osds']] == ['active'] * 3


def test_since_bad_value_and_exclusive(run):
    assert 'since: unrecognised Ceph timestamp' in run(ceph_osd_wait.main, dict(since='tuesday'), FakeCeph('healthy'))[1]['msg']
    code, result = run(ceph_osd_wait.main, dict(since='1', since_epoch=3), FakeCeph('healthy'))
    assert code == 1 and 'mutually exclusive' in result['msg']


def test_osd_subset_and_unknown_ids(run):
    assert run(ceph_osd_wait.main, dict(osds=[0, 1]), FakeCeph('osds_down_1'))[1]['ready']
    code, result = run(ceph_osd_wait.main, dict(osds=[0, 7], timeout=60), FakeCeph('healthy'))
    assert code == 1 and 'osd.7 not in the osdmap (OSDs: 0, 1, 2)' in result['msg']


def test_osd_out_is_not_ready(run):
    data = load('healthy', 'osd_dump')
    data['osds'][1]['in'] = 0
    fake = FakeCeph('healthy', extra={('osd', 'dump'): (0, json.dumps(data), '')})
    code, result = run(ceph_osd_wait.main, dict(timeout=0), fake)
    assert code == 1 and 'osd.1 on vm is up but out: run `ceph osd in 1`' in result['msg']
    assert run(ceph_osd_wait.main, dict(require_in=False), fake)[1]['ready']


def test_noup_is_named(run):
    data = load('osds_down_1', 'osd_dump')
    data['flags_set'].append('noup')
    fake = FakeCeph('osds_down_1', extra={('osd', 'dump'): (0, json.dumps(data), '')})
    code, result = run(ceph_osd_wait.main, dict(timeout=0), fake)
    assert 'noup is set: booting OSDs stay down until `ceph osd unset noup`' in result['msg']


# ------------------------------------------------------------------ the OSD gate on its own, and degraded on purpose

SILENT = dict((('tell', 'osd.%d' % i, 'status'),
               (1, '', 'Error ENXIO: problem getting command descriptions from osd.%d' % i)) for i in range(3))


def test_alone_after_a_hard_power_loss_it_asks_the_daemons_and_never_passes_on_the_map(run, no_sleep):
    # A whole-cluster hard power loss: every OSD daemon dead, the map still the healthy one (no nodown; nobody reported
    # them). With no since/since_epoch the old gate passed here on "up" alone.
    code, result = run(ceph_osd_wait.main, dict(timeout=0), FakeCeph('healthy', extra=SILENT))
    assert code == 1 and not result['ready']
    assert result['missing'][0] == (
        'osd.0 on vm is "up" in the map (no since/since_epoch given, so only its daemon can prove it runs): its daemon '
        'does not answer, it is not running; start it on its host (systemctl start ceph-osd@0)')
    assert result['state']['not_running'] == [0, 1, 2] and result['state']['num_fresh'] == 0
    # the same map with the daemons running passes, each daemon asked once
    fake = FakeCeph('healthy')
    code, result = run(ceph_osd_wait.main, dict(timeout=0), fake)
    assert code == 0 and [o['daemon_state'] for o in result['state']['osds']] == ['active'] * 3
    assert sum(1 for c in fake.calls if 'tell' in c) == 3


def test_a_serving_daemon_is_not_asked_again_in_the_same_life(run, no_sleep):
    # osd.2 is down for two checks, then up: osd.0 and osd.1 are asked once, osd.2 once it is up.
    fake = FakeCeph(['osds_down_1', 'osds_down_1', 'healthy'], advance_on=('osd', 'dump'))
    code, result = run(ceph_osd_wait.main, dict(timeout=60), fake)
    asked = [c[c.index('tell') + 1] for c in fake.calls if 'tell' in c]
    assert code == 0 and result['attempts'] == 3
    assert asked == ['osd.0', 'osd.1', 'osd.2'] and result['state']['osds'][2]['up_from'] == \
        load('healthy', 'osd_dump')['osds'][2]['up_from']


def test_the_daemons_are_asked_together(run):
    # After a hard power loss every silent daemon costs the CLI timeout: asked in turn, 30 OSDs would hold one check
    # for 5 minutes. Each fake daemon here answers only once the other two were asked too.
    meet = threading.Barrier(3, timeout=5)
    hold = 0.3

    def silent(words):
        meet.wait()
        time.sleep(hold)
        return 1, '', 'Error ETIMEDOUT: timed out'
    extra = dict((('tell', 'osd.%d' % i, 'status'), silent) for i in range(3))
    fake = FakeCeph('healthy', extra=extra)
    start = time.monotonic()
    code, result = run(ceph_osd_wait.main, dict(timeout=0), fake)
    took = time.monotonic() - start
    assert code == 1 and result['state']['not_running'] == [0, 1, 2]
    assert took < 2 * hold, took
    assert sum(1 for c in fake.calls if 'tell' in c) == 3, 'each daemon asked once'
    # an OSD expected down is not asked at all
    meet = threading.Barrier(2, timeout=5)
    fake = FakeCeph('healthy', extra=extra)
    code, result = run(ceph_osd_wait.main, dict(timeout=0, expect_down=[2]), fake)
    assert sorted(c[c.index('tell') + 1] for c in fake.calls if 'tell' in c) == ['osd.0', 'osd.1']


def test_expect_down_is_not_waited_on_and_is_named(run):
    code, result = run(ceph_osd_wait.main, dict(timeout=0), FakeCeph('osds_down_1'))
    assert code == 1 and 'osd.2 on vm is down' in result['msg']
    code, result = run(ceph_osd_wait.main, dict(timeout=0, expect_down=[2, 9]), FakeCeph('osds_down_1'))
    assert code == 0 and result['ready']
    state = result['state']
    assert state['expected_down'] == [2] and state['down'] == [2] and state['out'] == []
    assert [o['id'] for o in state['osds']] == [0, 1] and state['num_expected'] == 2
    assert state['degraded'] == ['osd.2 on vm is down and in, not waited on: it was down or out before']
    assert result['msg'].endswith('degraded (not waited on): osd.2 on vm is down and in, not waited on: it was down or '
                                  'out before')


def test_state_down_and_out_are_the_baseline_in_check_mode(run):
    data = load('osds_down_1', 'osd_dump')
    data['osds'][1]['in'] = 0
    fake = FakeCeph('osds_down_1', extra={('osd', 'dump'): (0, json.dumps(data), '')})
    code, result = run(ceph_osd_wait.main, dict(timeout=0), fake, check_mode=True)
    assert code == 0 and not result['ready']
    assert result['state']['down'] == [2] and result['state']['out'] == [1]
    # recorded, then given back: the gate passes with osd.1 out and osd.2 down
    code, result = run(ceph_osd_wait.main, dict(timeout=0, expect_down=[2, 1]), fake)
    assert code == 0 and result['state']['expected_down'] == [1, 2]


def _two_hosts_tree():
    tree = load('healthy', 'osd_tree')
    tree['nodes'][1]['children'] = [0, 1]
    tree['nodes'][0]['children'] = [-3, -5]
    tree['nodes'].append({'id': -5, 'name': 'ceph3', 'type': 'host', 'type_id': 1, 'children': [2]})
    return 0, json.dumps(tree), ''


def test_absent_hosts_expect_their_osds_down(run):
    extra = {('osd', 'tree'): _two_hosts_tree()}
    code, result = run(ceph_osd_wait.main, dict(timeout=0), FakeCeph('osds_down_1', extra=extra))
    assert code == 1 and 'osd.2 on ceph3 is down' in result['msg']
    code, result = run(ceph_osd_wait.main, dict(timeout=0, absent_hosts=['ceph3.example.com']),
                       FakeCeph('osds_down_1', extra=extra))
    assert code == 0 and result['state']['expected_down'] == [2]
    assert 'osd.2 on ceph3 is down and in, not waited on: its host ceph3.example.com is absent' in result['msg']
    # an absent host whose OSDs are all that is left: nothing to wait for, said so
    code, result = run(ceph_osd_wait.main, dict(timeout=0, absent_hosts=['vm', 'ceph3']),
                       FakeCeph('osds_down_all', extra=extra))
    assert code == 0 and result['state']['expected_down'] == [0, 1, 2] and result['state']['num_expected'] == 0


def _fs_dump(mutate):
    data = load('healthy', 'fs_dump')
    mutate(data['filesystems'][0]['mdsmap'], data)
    return (0, json.dumps(data), 'dumped fsmap epoch 30')


def _replaying(state, extra=None):
    """A captured state whose active MDS (mds.b) is in up:replay instead."""
    def replay(m, d):
        m['info']['gid_4851']['state'] = 'up:replay'
    extra = dict(extra or {})
    extra[('fs', 'dump')] = _fs_dump(replay)
    return FakeCeph(state, extra=extra)


def test_mds_replay_while_paused_says_unset_pause(run):
    fake = _replaying('flags_set')
    code, result = run(ceph_mds_wait.main, dict(timeout=0), fake)
    assert code == 1
    assert 'fs cephfs rank 0 on mds.b is up:replay: the MDS is in replay while the pause flag is set: unset pause' in result['msg']
    assert result['state']['pause'] is True


def test_mds_replay_behind_inactive_pgs_says_so(run):
    # The `osds_down_all` capture: every OSD down, 8 PGs stale+peering; an MDS in replay cannot read its journal.
    fake = _replaying('osds_down_all')
    code, result = run(ceph_mds_wait.main, dict(timeout=0), fake)
    assert code == 1
    assert ('fs cephfs rank 0 on mds.b is up:replay: 8 PGs are not active (8 stale+peering), so it cannot read its '
            'journal: an OSD is down or stuck') in result['msg'], result['msg']
    # A mgr that does not answer `pg stat` leaves the replay unexplained, not the gate broken.
    fake = _replaying('osds_down_all', {('pg', 'stat'): (124, '', '')})
    code, result = run(ceph_mds_wait.main, dict(timeout=0), fake)
    assert code == 1 and result['missing'] == ['fs cephfs rank 0 on mds.b is up:replay']
    assert result['transient_count'] == 0


def test_mds_active_is_not_believed_from_a_young_quorum(run):
    # Measured on the lab: the first fsmap after every host was killed showed the dead MDS up:active, not laggy.
    data = load('healthy', 'quorum_status')
    data['quorum_age'] = 4
    fake = FakeCeph('healthy', extra={('quorum_status',): (0, json.dumps(data), '')})
    code, result = run(ceph_mds_wait.main, dict(timeout=0), fake)
    assert code == 1
    assert 'the mons formed their quorum 4s ago' in result['msg'] and 'mds_beacon_grace (15.0s)' in result['msg']
    assert run(ceph_mds_wait.main, dict(beacon_grace=0), fake)[1]['ready']
    assert run(ceph_mds_wait.main, dict(beacon_grace=3), fake)[1]['ready']


def test_mds_laggy_after_a_power_loss_is_not_active(run):
    # Measured on the lab: after every host is killed, the FSMap keeps the dead MDS up:active with laggy_since.
    def laggy(m, d):
        m['info']['gid_4851']['laggy_since'] = '2026-11-25T15:20:01.123456+0000'
        d['standbys'][0]['laggy_since'] = '2026-11-25T15:20:01.223456+0000'
    code, result = run(ceph_mds_wait.main, dict(timeout=0), FakeCeph('healthy', extra={('fs', 'dump'): _fs_dump(laggy)}))
    assert code == 1
    assert 'fs cephfs rank 0: mds.b is up:active in the map but laggy since 2026-11-25T15:20:01.123456+0000' in result['msg']
    assert result['state']['standbys'] == []  # a laggy standby cannot take over either


def test_mds_down_and_not_joinable_say_how_to_bring_back(run):
    def down(m, d):
        m['max_mds'] = 0
        m['flags'] = 19
        m['in'], m['up'], m['info'] = [], {}, {}
    code, result = run(ceph_mds_wait.main, dict(timeout=0), FakeCeph('healthy', extra={('fs', 'dump'): _fs_dump(down)}))
    assert 'run `ceph fs set cephfs joinable true`' in result['msg']
    assert 'fs cephfs is down (max_mds 0): run `ceph fs set cephfs down false`' in result['msg']


def test_mds_damaged_rank(run):
    def damaged(m, d):
        m['damaged'], m['up'], m['info'] = [0], {}, {}
    code, result = run(ceph_mds_wait.main, dict(timeout=0), FakeCeph('healthy', extra={('fs', 'dump'): _fs_dump(damaged)}))
    assert 'fs cephfs rank 0 is damaged' in result['msg'] and '`ceph mds repaired cephfs:0`' in result['msg']


def test_mds_unknown_filesystem_and_standbys(run):
    code, result = run(ceph_mds_wait.main, dict(filesystems=['cephfs2'], timeout=60), FakeCeph('healthy'))
    assert code == 1 and 'filesystem cephfs2 does not exist (filesystems: cephfs)' in result['msg']
    code, result = run(ceph_mds_wait.main, dict(filesystems=['cephfs2']), FakeCeph('healthy'), check_mode=True)
    assert code == 1  # bad input fails even in check mode
    assert run(ceph_mds_wait.main, dict(filesystems=['cephfs'], min_standby=1), FakeCeph('healthy'))[1]['ready']
    code, result = run(ceph_mds_wait.main, dict(min_standby=2, timeout=0), FakeCeph('healthy'))
    assert '1 standby MDS, want 2' in result['msg']


def test_health_warn_level_and_ignores(run):
    assert run(ceph_health_wait.main, dict(status='HEALTH_WARN'), FakeCeph('osds_down_1'))[1]['ready']
    code, result = run(ceph_health_wait.main, dict(status='HEALTH_WARN', timeout=0), FakeCeph('mds_down'))
    assert code == 1 and 'HEALTH_ERR MDS_ALL_DOWN: 1 filesystem is offline' in result['msg']
    assert 'FS_DEGRADED' not in result['msg']  # a warning is within the accepted level
    code, result = run(ceph_health_wait.main, dict(ignore_checks=['OSDMAP_FLAGS']), FakeCeph('flags_set'))
    assert result['ready'] and result['state']['ignored'] == ['OSDMAP_FLAGS']


def test_health_pg_clean_reports_states(run):
    code, result = run(ceph_health_wait.main, dict(pg_clean=True, status='HEALTH_WARN', timeout=0), FakeCeph('recovering'))
    assert code == 1 and '20 PGs not active+clean: ' in result['msg'] and '13 peering' in result['msg']
    assert result['state']['pgs']['by_state']['active+clean'] == 5


def test_health_pg_active_accepts_unclean_but_active_pgs(run):
    # osd.2 down: every PG active+undersized(+degraded) - serving I/O, not clean
    args = dict(status='HEALTH_WARN', timeout=0)
    code, result = run(ceph_health_wait.main, dict(args, pg_clean=True), FakeCeph('osds_down_1'))
    assert code == 1 and '25 PGs not active+clean' in result['msg']
    code, result = run(ceph_health_wait.main, dict(args, pg_active=True), FakeCeph('osds_down_1'))
    assert code == 0 and result['ready'] and result['state']['pgs']['by_state']['active+undersized'] == 16
    # peering is not active; the active ones (clean or not) are not named
    code, result = run(ceph_health_wait.main, dict(args, pg_active=True), FakeCeph('recovering'))
    assert code == 1 and '13 PGs not active: 13 peering (an OSD holding them is down or stuck' in result['msg']
    # no fresh statistics: not active either
    code, result = run(ceph_health_wait.main, dict(args, pg_active=True), FakeCeph('mon_mgr'))
    assert code == 1 and 'pg_ready is false' in result['msg']
    # pg_clean is stricter and wins when both are asked
    assert run(ceph_health_wait.main, dict(args, pg_active=True, pg_clean=True), FakeCeph('osds_down_1'))[0] == 1


def test_health_raised_checks_are_the_baseline_for_ignore_checks(run):
    code, result = run(ceph_health_wait.main, dict(timeout=0), FakeCeph('osds_down_1'), check_mode=True)
    assert code == 0 and result['state']['raised'] == ['OSD_DOWN', 'PG_DEGRADED']
    assert run(ceph_health_wait.main, dict(ignore_checks=result['state']['raised'], pg_active=True),
               FakeCeph('osds_down_1'))[1]['ready']


def test_gate_rejects_negative_timeout(run):
    code, result = run(ceph_health_wait.main, dict(timeout=-1), FakeCeph('healthy'))
    assert code == 1 and 'timeout must be >= 0' in result['msg']


# ------------------------------------------------------------------------------------------- flags

def test_flags_set_reports_exactly_what_it_changed(run):
    fake = FakeCeph('healthy')
    code, result = run(ceph_osd_flags.main, dict(flags=['noout', 'norecover', 'noout']), fake)
    assert code == 0 and result['changed']
    assert result['changed_flags'] == ['noout', 'norecover'] and result['already'] == []
    assert fake.flags_changes == [('osd', 'set', 'noout'), ('osd', 'set', 'norecover')]
    assert result['flags_after'] == sorted(DEFAULT_FLAGS + ['noout', 'norecover'])
    assert result['commands'][0][-3:] == ['osd', 'set', 'noout'] and '--format' not in result['commands'][0]


def test_flags_are_idempotent(run):
    fake = FakeCeph('flags_set')
    code, result = run(ceph_osd_flags.main, dict(flags=['noout', 'pause', 'nodown']), fake)
    assert code == 0 and not result['changed'] and result['changed_flags'] == [] and fake.flags_changes == []
    assert result['already'] == ['noout', 'pause', 'nodown']
    assert len(fake.calls) == 1  # read once, nothing else


def test_unset_leaves_an_operators_flag_alone(run):
    fake = FakeCeph('flags_set')
    code, result = run(ceph_osd_flags.main, dict(flags=['norecover', 'pause', 'noscrub'], state='absent'), fake)
    assert result['changed_flags'] == ['norecover', 'pause'] and result['already'] == ['noscrub']
    assert 'noout' in result['flags_after'] and 'pauserd' not in result['flags_after']


def test_flags_check_mode_predicts_and_changes_nothing(run):
    fake = FakeCeph('healthy')
    code, result = run(ceph_osd_flags.main, dict(flags=['pause', 'noout']), fake, check_mode=True)
    assert code == 0 and result['changed'] and fake.flags_changes == []
    assert result['flags_after'] == sorted(DEFAULT_FLAGS + ['noout', 'pause', 'pauserd', 'pausewr'])
    assert result['diff']['after'].count('\n') == len(result['flags_after'])
    fake = FakeCeph('flags_set')
    result = run(ceph_osd_flags.main, dict(flags=['pause'], state='absent'), fake, check_mode=True)[1]
    assert result['flags_after'] == sorted(DEFAULT_FLAGS + ['nobackfill', 'nodown', 'noout', 'norebalance', 'norecover'])


def test_flags_unknown_flag_is_refused(run):
    fake = FakeCeph('healthy')
    code, result = run(ceph_osd_flags.main, dict(flags=['noout', 'nodwon']), fake)
    assert code == 1 and 'nodwon' in result['msg'] and fake.calls == []


def test_flags_that_do_not_stick_fail(run):
    fake = FakeCeph('healthy')
    fake.flags_changes = None  # osd dump keeps showing no flags after `osd set`

    def swallow(argv, **kwargs):
        fake.calls.append(argv)
        words = tuple(argv[argv.index('--rados_osd_op_timeout=10') + 1:])
        if words[:2] == ('osd', 'set'):
            return 0, '', 'noout is set'
        return FakeCeph('healthy')(argv, **kwargs)
    code, result = run(ceph_osd_flags.main, dict(flags=['noout']), swallow)
    assert code == 1 and 'still shows noout' in result['msg']


def test_flags_fail_on_unreachable_cluster(run):
    code, result = run(ceph_osd_flags.main, dict(flags=['noout']), FakeCeph('mons_down'))
    assert code == 1 and 'osd dump --format json` failed (rc=1): timed out' in result['msg']
