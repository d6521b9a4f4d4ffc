# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight of power_off.yml, run by ansible-playbook from the checkout exactly as the README writes it
(no ANSIBLE_COLLECTIONS_PATH: the repository's ansible.cfg finds the roles), on inventories/example with every
host unreachable (each one pointed at a closed port on this machine): the plan is printed, the run is refused
naming the hosts and what to do, bad input is refused before any host is asked, and no secret is printed even at
-vvv."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.unit.conftest import ROOT

SECRET = 'change-me-and-encrypt-this-file'  # inventories/example/group_vars/all/vault.yml


def playbook(*args, inventory='inventories/example'):
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    for var in ('ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS', 'ANSIBLE_CONFIG'):
        env.pop(var, None)
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory,
            'playbooks/power_off.yml', '--check',
            # every host unreachable, safely: a closed port on this machine
            '-e', 'ansible_host=127.0.0.1', '-e', 'ansible_port=9', '-e', 'preflight_reach_timeout=20'] + list(args)
    run = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False)
    return run.returncode, run.stdout + run.stderr


def test_check_mode_prints_the_plan_with_every_host_unreachable_then_refuses_naming_them():
    rc, out = playbook('-vvv')
    assert 'the role \'blackstart.cluster.preflight\' was not found' not in out
    assert rc != 0
    assert 'POWER OFF - CHECK MODE, nothing will change' in out
    assert '1 workers node-01, node-02, node-03, node-04, node-05' in out
    assert 'ceph-01: lost' in out and 'node-05: lost' in out
    assert 'did not answer within 20 s (check mode: a real run stops here too). Nothing was changed.' in out
    assert 'blackstart_absent_hosts' in out
    assert SECRET not in out, 'the BMC password was printed'


@pytest.mark.parametrize('extra, said', [
    (['-e', 'ceph_osd_activaton=lvm'], 'ceph_osd_activaton (did you mean ceph_osd_activation?)'),
    (['-e', 'ceph_osd_activation=lvmm'], 'ceph_osd_activation'),
    (['-e', 'blackstart_drain=false'], 'unknown variable(s) blackstart_drain'),
    (['-e', '{"blackstart_absent_hosts": ["ceph-09"]}'], 'blackstart_absent_hosts names ceph-09, not a host of the cycle'),
])
def test_bad_input_is_refused_before_any_host_is_asked(extra, said):
    rc, out = playbook(*extra)
    assert rc != 0
    assert said in out
    assert 'Reach every host' not in out, 'a host was asked before the input was checked'


def test_a_host_in_no_group_of_the_cycle_is_refused(tmp_path):
    inventory = tmp_path / 'hosts.yml'
    with open(os.path.join(ROOT, 'inventories', 'example', 'hosts.yml'), encoding='utf-8') as handle:
        example = handle.read()
    inventory.write_text(example + '    forgotten:\n      hosts:\n        node-06: {ansible_host: 127.0.0.1}\n')
    os.symlink(os.path.join(ROOT, 'inventories', 'example', 'group_vars'), str(tmp_path / 'group_vars'))
    rc, out = playbook(inventory=str(inventory))
    assert rc != 0
    assert 'node-06 is in the inventory but in none of the groups' in out
    assert 'Reach every host' not in out
