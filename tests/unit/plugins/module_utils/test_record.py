# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The write-ahead record's rules: merge never forgets, the cluster identity is enforced, writes are atomic and
private, and what is left to undo is what was done minus what was undone."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.blackstart.cluster.plugins.module_utils import _record


def test_a_rerun_that_cordons_nothing_keeps_the_nodes_the_first_run_cordoned():
    # The bug: combine() replaced cordoned: [w1, w2] with [] and power_on never uncordoned them.
    first = _record.merge({}, {'workers': {'cordoned': ['w1', 'w2'], 'drained': True}})
    second = _record.merge(first, {'workers': {'cordoned': [], 'drained': False}})
    assert second['workers']['cordoned'] == ['w1', 'w2']
    assert second['workers']['drained'] is False


def test_lists_are_unions_in_first_seen_order_and_dicts_merge_deeply():
    rec = _record.merge({'ceph': {'flags_set': ['noout'], 'epoch': 1}}, {'ceph': {'flags_set': ['norecover', 'noout']}})
    assert rec == {'ceph': {'flags_set': ['noout', 'norecover'], 'epoch': 1}}


def test_none_leaves_a_value_alone_and_merge_does_not_touch_its_inputs():
    base = {'ceph': {'osdmap_epoch': 68}}
    update = {'ceph': {'osdmap_epoch': None, 'flags_set': ['noout']}}
    out = _record.merge(base, update)
    assert out['ceph']['osdmap_epoch'] == 68
    assert base == {'ceph': {'osdmap_epoch': 68}}
    out['ceph']['flags_set'].append('x')
    assert update['ceph']['flags_set'] == ['noout']


def test_identity_conflicts_only_when_both_sides_know_the_key():
    assert _record.identity_conflicts({'ceph_fsid': 'a'}, {'ceph_fsid': 'a', 'kube_system_uid': 'u'}) == []
    assert _record.identity_conflicts({'ceph_fsid': 'a'}, {'kube_system_uid': 'u'}) == []
    assert _record.identity_conflicts({'ceph_fsid': 'a'}, {'ceph_fsid': 'b'}) == [('ceph_fsid', 'a', 'b')]
    msg = _record.conflict_message('/r.json', [('ceph_fsid', 'a', 'b')])
    assert 'another cluster' in msg and 'ceph_fsid a (this cluster: b)' in msg and 'mv /r.json' in msg


def test_unfinished_is_what_was_done_minus_what_was_undone():
    rec = {'ceph': {'flags_set': ['noout', 'norecover'], 'flags_unset': ['norecover'], 'filesystems_down': ['cephfs']},
           'workers': {'cordoned': ['w1', 'w2'], 'uncordoned': ['w1']}, 'hosts_off': ['w1'], 'hosts_on': ['w1']}
    assert _record.unfinished(rec) == dict(flags=['noout'], cordoned=['w2'], filesystems=['cephfs'], hosts_off=[])
    assert _record.unfinished({}) == dict(flags=[], cordoned=[], filesystems=[], hosts_off=[])


def test_write_is_private_and_atomic_and_load_reads_it_back(tmp_path):
    path = str(tmp_path / 'site' / 'state.json')
    _record.write(path, {'a': [1]})
    assert _record.load(path) == {'a': [1]}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert sorted(os.listdir(os.path.dirname(path))) == ['state.json']  # no temporary file left behind


def test_load_of_a_missing_file_is_empty_and_of_a_broken_one_says_what_to_do(tmp_path):
    assert _record.load(str(tmp_path / 'none.json')) == {}
    broken = tmp_path / 'broken.json'
    broken.write_text('{"ceph": ')
    with pytest.raises(_record.RecordError, match='not valid JSON.*move it aside'):
        _record.load(str(broken))
    listed = tmp_path / 'list.json'
    listed.write_text(json.dumps([1]))
    with pytest.raises(_record.RecordError, match='holds a list'):
        _record.load(str(listed))


def test_write_into_an_unwritable_place_fails_with_the_path(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(_record.RecordError, match='cannot write the record'):
        _record.write(str(blocker / 'state.json'), {})


def test_git_worktree_finds_the_tree_a_path_would_land_in(tmp_path):
    (tmp_path / 'repo' / '.git').mkdir(parents=True)
    assert _record.git_worktree(str(tmp_path / 'repo' / 'inventories' / 'site' / 'state.json')) == str(tmp_path / 'repo')
    assert _record.git_worktree(str(tmp_path / 'elsewhere' / 'state.json')) is None


def test_retired_name_and_lock(tmp_path):
    assert _record.retired_name('/x/state.json', '20261201T000000Z') == '/x/state.done-20261201T000000Z.json'
    with _record.locked(str(tmp_path / 'd' / 'state.json')):
        assert os.path.exists(str(tmp_path / 'd' / 'state.json.lock'))


def test_git_exposed_accepts_an_ignored_path_and_refuses_a_tracked_place(tmp_path):
    import subprocess
    repo = tmp_path / 'repo'
    subprocess.check_call(['git', 'init', '-q', str(repo)])
    (repo / '.gitignore').write_text('/private/\n')
    assert _record.git_exposed(str(repo / 'private' / 'state.json')) is None
    assert _record.git_exposed(str(repo / 'inventories' / 'state.json')) == str(repo)
    assert _record.git_exposed(str(tmp_path / 'outside.json')) is None
