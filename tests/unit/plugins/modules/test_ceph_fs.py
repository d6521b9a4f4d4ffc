# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ceph_fs: filesystems down (and wait for the ranks to stop) / up, idempotent, check mode."""

from __future__ import annotations

import json

import pytest

from ansible_collections.blackstart.cluster.plugins.module_utils import _wait
from ansible_collections.blackstart.cluster.plugins.modules import ceph_fs, ceph_osd_flags

from tests.unit.ceph_fakes import FakeCeph, load, run_module


@pytest.fixture
def run(monkeypatch, capsys):
    monkeypatch.setattr(_wait.time, 'sleep', lambda s: None)

    def _run(main, args, fake, check_mode=False):
        return run_module(main, args, fake, monkeypatch, capsys, check_mode=check_mode)
    return _run


def fs_dump(max_mds=1, joinable=True, ranks=True):
    data = load('healthy', 'fs_dump')
    m = data['filesystems'][0]['mdsmap']
    m['max_mds'] = max_mds
    m['flags'] = 18 if joinable else 19
    if not ranks:
        m['in'], m['up'], m['info'] = [], {}, {}
    return (0, json.dumps(data), 'dumped fsmap epoch 31')


ACTIVE = [e['name'] for e in load('healthy', 'fs_dump')['filesystems'][0]['mdsmap']['info'].values()
          if e['state'] == 'up:active'][0]


class Cluster(object):
    """An fsmap that follows the `fs set` commands, ranks stopping after ``stop_after`` more reads."""

    def __init__(self, max_mds=1, joinable=True, stop_after=2):
        self.max_mds, self.joinable, self.ranks = max_mds, joinable, max_mds > 0
        self.stop_after = stop_after
        self.sets = []

    def fs_dump(self, words):
        if (self.max_mds == 0 or not self.joinable) and self.ranks:
            self.stop_after -= 1
            if self.stop_after < 0:
                self.ranks = False
        return fs_dump(self.max_mds, self.joinable, self.ranks)

    def fs_set(self, words):
        self.sets.append(words[2:])
        key, value = words[3], words[4]
        if key == 'down':
            self.max_mds = 0 if value == 'true' else 1
        elif key == 'joinable':
            self.joinable = value == 'true'
        return (0, '', '')

    def fs_fail(self, words):
        self.sets.append(words)
        self.joinable = False
        return (0, '', 'cephfs marked not joinable; MDS cannot join the cluster. All MDS ranks marked failed.')

    def flush(self, words):
        self.sets.append(words)
        return (0, '{"message": "", "return_code": 0}', '')

    def fake(self):
        return FakeCeph('healthy', extra={('fs', 'dump'): self.fs_dump,
                                          ('fs', 'fail', 'cephfs'): self.fs_fail,
                                          ('tell', 'mds.%s' % ACTIVE, 'flush', 'journal'): self.flush,
                                          ('fs', 'set', 'cephfs', 'down', 'true'): self.fs_set,
                                          ('fs', 'set', 'cephfs', 'down', 'false'): self.fs_set,
                                          ('fs', 'set', 'cephfs', 'joinable', 'true'): self.fs_set})


def test_down_flushes_and_waits_for_the_ranks(run):
    cluster = Cluster(stop_after=2)
    code, result = run(ceph_fs.main, dict(state='down', method='down'), cluster.fake())
    assert code == 0 and result['changed'] and result['changed_filesystems'] == ['cephfs']
    assert cluster.sets == [('cephfs', 'down', 'true')]
    assert result['filesystems'] == [dict(name='cephfs', max_mds=1, joinable=True, ranks_up=1)]
    assert result['commands'][0][-5:] == ['fs', 'set', 'cephfs', 'down', 'true']


def test_down_is_idempotent(run):
    cluster = Cluster(max_mds=0)
    cluster.ranks = False
    code, result = run(ceph_fs.main, dict(state='down', method='down'), cluster.fake())
    assert code == 0 and not result['changed'] and cluster.sets == []


def test_down_fails_when_ranks_do_not_stop(run):
    cluster = Cluster(stop_after=10 ** 6)
    code, result = run(ceph_fs.main, dict(state='down', method='down', timeout=1), cluster.fake())
    assert code == 1 and 'ranks did not stop' in result['msg'] and 'fs cephfs rank 0 on mds.b is up:active' in result['msg']


def test_up_restores_down_and_joinable(run):
    cluster = Cluster(max_mds=0, joinable=False)
    code, result = run(ceph_fs.main, dict(state='up'), cluster.fake())
    assert code == 0 and result['changed']
    assert cluster.sets == [('cephfs', 'down', 'false'), ('cephfs', 'joinable', 'true')]
    code, result = run(ceph_fs.main, dict(state='up'), cluster.fake())
    assert not result['changed'] and len(cluster.sets) == 2


def test_check_mode_predicts(run):
    cluster = Cluster()
    code, result = run(ceph_fs.main, dict(state='down', method='down'), cluster.fake(), check_mode=True)
    assert code == 0 and result['changed'] and result['changed_filesystems'] == ['cephfs'] and cluster.sets == []


def test_unknown_filesystem(run):
    code, result = run(ceph_fs.main, dict(state='up', filesystems=['nope']), Cluster().fake())
    assert code == 1 and 'filesystem nope does not exist (filesystems: cephfs)' in result['msg']


def test_unreachable_cluster(run):
    code, result = run(ceph_fs.main, dict(state='up'), FakeCeph('mons_down'))
    assert code == 1 and 'fs dump --format json` failed (rc=1): timed out' in result['msg']


def test_flags_return_the_epoch(run):
    code, result = run(ceph_osd_flags.main, dict(flags=['noout']), FakeCeph('healthy'))
    assert result['epoch'] == 40
    code, result = run(ceph_osd_flags.main, dict(flags=['noout']), FakeCeph('flags_set'))
    assert result['epoch'] == 68 and not result['changed']


# ------------------------------------------------------------------ what was changed, also when a command fails

TIMED_OUT = (1, '', '2026-11-25T13:00:00.000+0000 7f0 0 monclient(hunting): authenticate timed out after 10')


def test_fs_failure_still_names_the_filesystems_changed(run):
    cluster = Cluster(max_mds=0, joinable=False)
    fake = cluster.fake()
    fake.extra[('fs', 'set', 'cephfs', 'joinable', 'true')] = (22, '', 'Error EINVAL: rejected')
    code, result = run(ceph_fs.main, dict(state='up'), fake)
    assert code == 1 and result['changed'] and result['changed_filesystems'] == ['cephfs']
    assert 'Error EINVAL: rejected' in result['msg'] and '(changed before the failure: cephfs)' in result['msg']
    # nothing done before the failure: nothing reported
    fake = Cluster(max_mds=0).fake()
    fake.extra[('fs', 'set', 'cephfs', 'down', 'false')] = (22, '', 'Error EINVAL: rejected')
    code, result = run(ceph_fs.main, dict(state='up'), fake)
    assert code == 1 and not result['changed'] and result['changed_filesystems'] == []
    # down: a command that timed out may have been applied - counted, so that the power-on brings it back
    fake = Cluster().fake()
    fake.extra[('fs', 'set', 'cephfs', 'down', 'true')] = TIMED_OUT
    code, result = run(ceph_fs.main, dict(state='down', method='down'), fake)
    assert code == 1 and result['changed_filesystems'] == ['cephfs']
    code, result = run(ceph_fs.main, dict(state='up', filesystems=['nope']), Cluster().fake())
    assert code == 1 and result['changed_filesystems'] == []


def test_flags_failure_still_names_the_flags_set_before_it(run):
    fake = FakeCeph('healthy', extra={('osd', 'set', 'norecover'): (22, '', 'Error EINVAL: rejected')})
    code, result = run(ceph_osd_flags.main, dict(flags=['noout', 'norecover', 'nobackfill']), fake)
    assert code == 1 and result['changed'] and result['changed_flags'] == ['noout']
    assert result['already'] == [] and 'noout' not in result['flags_before']
    assert '(changed before the failure: noout)' in result['msg'] and 'Error EINVAL: rejected' in result['msg']
    # the flags cannot be read again after the failure: the failing flag may have been set, it counts
    dumps = []

    def osd_dump(words):
        dumps.append(words)
        return (0, FakeCeph('healthy')(['ceph', 'osd', 'dump', '--format', 'json'], environ_update=dict(
            LC_ALL='C', LANG='C'))[1], '') if len(dumps) == 1 else TIMED_OUT
    fake = FakeCeph('healthy', extra={('osd', 'set', 'norecover'): TIMED_OUT, ('osd', 'dump'): osd_dump})
    code, result = run(ceph_osd_flags.main, dict(flags=['noout', 'norecover', 'nobackfill']), fake)
    assert code == 1 and result['changed_flags'] == ['noout', 'norecover'] and len(dumps) == 2
    # unsetting: what was unset before the failure; the failing one is not assumed unset
    fake = FakeCeph('flags_set', extra={('osd', 'unset', 'nodown'): (22, '', 'Error EINVAL: rejected')})
    code, result = run(ceph_osd_flags.main, dict(flags=['noout', 'nodown', 'pause'], state='absent'), fake)
    assert code == 1 and result['changed_flags'] == ['noout']
    # the first read failed: nothing changed, nothing known
    code, result = run(ceph_osd_flags.main, dict(flags=['noout']), FakeCeph('mons_down'))
    assert code == 1 and result['changed_flags'] == [] and result['already'] == [] and result['flags_before'] == []


def test_flags_that_do_not_stick_report_the_ones_that_did(run):
    fake = FakeCeph('healthy')

    def ignore_nodown(argv, **kwargs):
        words = tuple(argv[argv.index('--rados_osd_op_timeout=10') + 1:])
        if words == ('osd', 'set', 'nodown'):
            fake.calls.append(argv)
            return 0, '', 'nodown is set'
        return fake(argv, **kwargs)
    code, result = run(ceph_osd_flags.main, dict(flags=['noout', 'nodown']), ignore_nodown)
    assert code == 1 and 'still shows nodown' in result['msg'] and result['changed_flags'] == ['noout']


def test_down_by_default_flushes_the_active_journal_then_fails_the_filesystem(run):
    cluster = Cluster(stop_after=1)
    code, result = run(ceph_fs.main, dict(state='down'), cluster.fake())
    assert code == 0, result
    assert cluster.sets == [('tell', 'mds.%s' % ACTIVE, 'flush', 'journal'), ('fs', 'fail', 'cephfs')]
    assert result['changed'] is True and result['changed_filesystems'] == ['cephfs']
    assert result['commands'][-1][-3:] == ['fs', 'fail', 'cephfs']
    # a failed filesystem with no rank up is already down: nothing to do
    code, result = run(ceph_fs.main, dict(state='down'), cluster.fake())
    assert code == 0 and result['changed'] is False and cluster.sets[2:] == []


def test_up_after_fail_makes_the_filesystem_joinable_again(run):
    cluster = Cluster(joinable=False)
    code, result = run(ceph_fs.main, dict(state='up'), cluster.fake())
    assert code == 0 and cluster.sets == [('cephfs', 'joinable', 'true')]
