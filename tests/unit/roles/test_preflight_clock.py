# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preflight clock check, run by ansible-playbook against this machine: the host is the controller, so
the skew must come out near zero whatever the controller's time zone (a naive UTC time read as local once made
a controller at UTC-5 report every host 5 hours off)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.unit.conftest import COLLECTIONS, ROOT

PLAYBOOK = '''
- name: Clock check against the controller itself
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the preflight clock check
      ansible.builtin.include_role:
        name: blackstart.cluster.preflight
        tasks_from: clock
    - name: The skew of a machine against itself is below a minute
      ansible.builtin.assert:
        that: (preflight_clock_skew.seconds | float) < 60 and (preflight_clock_skew.uncertainty | float) >= 0
'''


# POSIX TZ strings need no tz database: XST5 is UTC-5, YST-9 is UTC+9.
@pytest.mark.parametrize('tz', ['UTC0', 'XST5', 'YST-9'])
def test_clock_skew_of_the_controller_against_itself_is_zero_in_any_time_zone(tmp_path, tz):
    playbook = tmp_path / 'clock.yml'
    playbook.write_text(PLAYBOOK)
    env = dict(os.environ, TZ=tz, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_INVENTORY_UNPARSED_WARNING='0')
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), str(playbook),
                          '-e', 'ansible_python_interpreter=' + sys.executable],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert 'CLOCK:' not in run.stdout, run.stdout
