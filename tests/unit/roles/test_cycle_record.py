# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""blackstart.cluster.cycle_record run by ansible-playbook: the action plugin writes on the controller, merges
without forgetting, refuses another cluster's record and git work trees, writes nothing in check mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.unit.conftest import COLLECTIONS

PLAYBOOK = '''
- name: Record
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Call the record
      blackstart.cluster.cycle_record: "{{ record_args }}"
      register: record_result
    - name: Show it
      ansible.builtin.copy:
        content: "{{ record_result | to_json }}"
        dest: "{{ record_out }}"
        mode: "0600"
      check_mode: false
'''


def run(tmp_path, args, check=False):
    playbook = tmp_path / 'record.yml'
    playbook.write_text(PLAYBOOK)
    out = tmp_path / 'result.json'
    if out.exists():
        out.unlink()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0')
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), str(playbook),
            '-e', json.dumps({'record_args': args, 'record_out': str(out),
                              'ansible_python_interpreter': sys.executable})]
    if check:
        argv.append('--check')
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120, check=False)
    result = json.loads(out.read_text()) if out.exists() else None
    return proc, result


def test_open_update_and_retire(tmp_path):
    path = str(tmp_path / 'state' / 'rec.json')
    proc, res = run(tmp_path, {'path': path, 'op': 'open', 'cluster': {'ceph_fsid': 'F1', 'kube_system_uid': ''},
                               'update': {'workers': {'cordoned': ['w1', 'w2']}}, 'event': 'cordoning'})
    assert proc.returncode == 0, proc.stdout[-3000:]
    rec = json.load(open(path))
    assert rec['cluster'] == {'ceph_fsid': 'F1'} and rec['cycle']['id'] and rec['version'] == 2
    assert rec['events'][0]['what'] == 'cordoning' and rec['events'][0]['host'] == 'localhost'
    assert res['changed'] is True and res['unfinished']['cordoned'] == ['w1', 'w2']

    proc, res = run(tmp_path, {'path': path, 'update': {'workers': {'cordoned': []}}})
    assert proc.returncode == 0 and res['changed'] is False
    assert json.load(open(path))['workers']['cordoned'] == ['w1', 'w2']

    proc, res = run(tmp_path, {'path': path, 'op': 'retire'})
    assert proc.returncode == 0 and res['retired_to'].startswith(path[:-len('.json')] + '.done-')
    assert not os.path.exists(path) and os.path.exists(res['retired_to'])


def test_a_record_of_another_cluster_is_refused_and_left_as_it_was(tmp_path):
    path = tmp_path / 'rec.json'
    path.write_text(json.dumps({'cluster': {'ceph_fsid': 'OLD'}, 'ceph': {'flags_set': ['noout']}}))
    before = path.read_text()
    proc, res = run(tmp_path, {'path': str(path), 'op': 'open', 'cluster': {'ceph_fsid': 'NEW'}})
    assert proc.returncode != 0
    assert 'belongs to another cluster: ceph_fsid OLD (this cluster: NEW)' in proc.stdout
    assert path.read_text() == before


def test_check_mode_predicts_and_writes_nothing(tmp_path):
    path = tmp_path / 'rec.json'
    proc, res = run(tmp_path, {'path': str(path), 'op': 'open', 'update': {'ceph': {'flags_set': ['noout']}}},
                    check=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert res['changed'] is True and res['record']['ceph']['flags_set'] == ['noout']
    assert not path.exists()


def test_a_path_inside_a_git_work_tree_is_refused_unless_allowed(tmp_path):
    (tmp_path / 'repo' / '.git').mkdir(parents=True)
    path = str(tmp_path / 'repo' / 'inventories' / 'site' / 'rec.json')
    proc = run(tmp_path, {'path': path, 'op': 'read'})[0]
    assert proc.returncode != 0 and "inside the git work tree" in proc.stdout
    snap = str(tmp_path / 'repo' / 'snap')
    proc = run(tmp_path, {'path': str(tmp_path / 'ok.json'), 'op': 'read', 'check_paths': [snap]})[0]
    assert proc.returncode != 0 and snap in proc.stdout
    proc, res = run(tmp_path, {'path': path, 'op': 'read', 'allow_in_git': True})
    assert proc.returncode == 0 and res['record'] == {} and res['existed'] is False
