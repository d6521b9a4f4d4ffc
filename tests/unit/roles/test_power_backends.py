# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The power role's backends, run by ansible-playbook against real protocol peers on 127.0.0.1 whose "hosts"
are files (a stand-in for lab/power): the IPMI BMC (pyghmi's server), the Redfish service (sushy-tools) and
the WoL listener from lab/bmc. The lab itself (real hosts that go off and on) is tests/lab_power.

Each test failed before its fix: the IPMI state read with `state: query` (refused by the module), the
none/wol SSH probe of a host without ansible_host (it probed the controller), the command backend printing its
command line (and a password in it) at -vvv, the check mode that skipped instead of saying what it would do."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.conftest import COLLECTIONS, ROOT
from tests.unit.pswatch import PsWatch

sys.path.insert(0, os.path.join(ROOT, 'lab', 'bmc'))
from peers import Peers, free_port  # noqa: E402  pylint: disable=wrong-import-position

pytest.importorskip('pyghmi')
pytest.importorskip('sushy_tools')

# A stand-in for lab/power: a host is on while the file $FAKEPOWER_DIR/HOST exists.
FAKEPOWER = '''#!/bin/sh
d=${FAKEPOWER_DIR:?}; a=$1; h=$2
case $a in
status) if [ -e "$d/$h" ]; then echo "$h: running"; else echo "$h: stopped"; fi ;;
on) touch "$d/$h"; echo "$h: powered on" ;;
off|kill) rm -f "$d/$h"; echo "$h: powered off" ;;
*) echo "fakepower: bad action $a" >&2; exit 2 ;;
esac
'''

PLAYBOOK = '''
- name: Power role entry point against the emulators
  hosts: all
  gather_facts: false
  tasks:
    - name: Run the entry point
      ansible.builtin.include_role:
        name: blackstart.cluster.power
        tasks_from: "{{ entry }}"
    - name: Show the state read
      when: entry == 'status'
      ansible.builtin.debug:
        msg: "POWER {{ inventory_hostname }} {{ power_is_on }}"
'''

# Set by tests/unit/roles/... callers that want the role from elsewhere (to show a test fails on old code).
COLL = os.environ.get('BLACKSTART_TEST_COLLECTIONS', COLLECTIONS)


class Env:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.state = tmp / 'state'
        self.state.mkdir()
        self.fakepower = tmp / 'fakepower'
        self.fakepower.write_text(FAKEPOWER)
        self.fakepower.chmod(0o755)
        self.env = dict(os.environ, FAKEPOWER_DIR=str(self.state))

    def on(self, *hosts):
        for h in hosts:
            (self.state / h).touch()

    def is_on(self, h):
        return (self.state / h).exists()

    def play(self, hostvars: dict, entry: str, *args: str, timeout: float = 240):
        inv = self.tmp / 'inventory.yml'
        base = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                'power_poll_interval': 1}
        inv.write_text(yaml.safe_dump({'all': {'hosts': {h: {**base, **v} for h, v in hostvars.items()}}}))
        inv.chmod(0o600)
        pb = self.tmp / 'power.yml'
        pb.write_text(PLAYBOOK)
        env = dict(self.env, ANSIBLE_COLLECTIONS_PATH=COLL, ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0',
                   ANSIBLE_HOST_KEY_CHECKING='0', ANSIBLE_PYTHON_INTERPRETER=sys.executable)
        seen = PsWatch()
        with seen:
            run = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inv),
                                  str(pb), '-e', f'entry={entry}', *args], capture_output=True, text=True, env=env,
                                 cwd=ROOT, timeout=timeout, check=False)
        run.ps = seen.lines
        return run


def states(out: str) -> dict:
    return {h: v == 'True' for h, v in re.findall(r'"POWER (\S+) (True|False)"', out)}


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('power')
    env = Env(tmp)
    hosts = ['ipmi-on', 'ipmi-off', 'rf-on', 'rf-off', 'wol-off']
    macs = {h: f'02:00:7f:00:00:{i:02x}' for i, h in enumerate(hosts, 1)}
    peers = Peers(tmp / 'bmc', hosts, macs, power_command=str(env.fakepower), env=env.env)
    with peers:
        env.peers = peers
        yield env
    assert 'Traceback' not in peers.log('ipmi') + peers.log('redfish') + peers.log('wol')


def test_status_reads_ipmi_redfish_command_and_the_ssh_port_of_the_host_itself(lab):
    lab.on('ipmi-on', 'rf-on', 'cmd-on')
    # the 'none' host has no ansible_host: its name is its address, and SSH (here a listener) is there only
    port = free_port(socket.SOCK_STREAM, '127.0.0.3')
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.3', port))
    srv.listen(8)
    try:
        run = lab.play({
            'ipmi-on': lab.peers.vars('ipmi-on', 'ipmi'), 'ipmi-off': lab.peers.vars('ipmi-off', 'ipmi'),
            'rf-on': lab.peers.vars('rf-on', 'redfish'), 'rf-off': lab.peers.vars('rf-off', 'redfish'),
            'cmd-on': {'power_backend': 'command',
                       'power_commands': {'status': [str(lab.fakepower), 'status', '{{ inventory_hostname }}'],
                                          'on': f'{lab.fakepower} on {{{{ inventory_hostname }}}}'}},
            '127.0.0.3': {'power_backend': 'none', 'ansible_port': port},
        }, 'status')
    finally:
        srv.close()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert states(run.stdout) == {'ipmi-on': True, 'ipmi-off': False, 'rf-on': True, 'rf-off': False,
                                  'cmd-on': True, '127.0.0.3': True}, run.stdout[-4000:]
    assert lab.is_on('ipmi-on') and not lab.is_on('ipmi-off'), 'reading the state changed it'


def test_check_mode_says_what_it_would_do_and_changes_nothing(lab):
    lab.on('ipmi-on')
    run = lab.play({'ipmi-off': lab.peers.vars('ipmi-off', 'ipmi'), 'rf-off': lab.peers.vars('rf-off', 'redfish'),
                    'wol-off': {**lab.peers.vars('wol-off', 'wol'), 'ansible_host': '127.0.0.9', 'ansible_port': 9}},
                   'power_on', '--check')
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    for h, b in (('ipmi-off', 'ipmi'), ('rf-off', 'redfish'), ('wol-off', 'wol')):
        assert f'{h}: ' in run.stdout and f'would power it on through the {b} backend' in run.stdout, run.stdout
    assert not lab.is_on('ipmi-off') and not lab.is_on('rf-off') and not lab.is_on('wol-off')
    run = lab.play({'ipmi-on': lab.peers.vars('ipmi-on', 'ipmi')}, 'power_off', '--check')
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert 'would shut the OS down (systemctl poweroff) and wait at most 300 s until the ipmi backend says off' \
        in run.stdout, run.stdout
    assert lab.is_on('ipmi-on')


def test_failures_name_host_backend_and_cause_and_never_show_a_secret(lab):
    argv_secret, stdin_secret = 'ArgvSecret-4711', 'StdinSecret-0815'
    bad_ipmi = lab.peers.vars('ipmi-on', 'ipmi')
    bad_ipmi['power_ipmi']['password'] = 'WrongIpmiSecret-1'
    bad_rf = lab.peers.vars('rf-on', 'redfish')
    bad_rf['power_redfish']['password'] = 'WrongRfSecret-2'
    run = lab.play({
        'ipmi-bad': bad_ipmi, 'rf-bad': bad_rf,
        'cmd-bad': {'power_backend': 'command', 'power_command_stdin': stdin_secret,
                    'power_commands': {'status': ['sh', '-c', 'read -r p; echo "BMC refused password $p" >&2; exit 3',
                                                  argv_secret], 'on': ['true']}},
        'ipmi-nopw': {'power_backend': 'ipmi', 'power_ipmi': {'name': '127.0.0.1', 'user': 'x'}},
        'ipmi-dead': {'power_backend': 'ipmi', 'power_ipmi': {'name': '127.0.0.1', 'port': free_port(),
                                                              'user': 'x', 'password': 'DeadBmcSecret-3'}},
        'rf-dead': {'power_backend': 'redfish', 'power_redfish': {
            'baseuri': f'127.0.0.1:{free_port(socket.SOCK_STREAM)}', 'username': 'x', 'password': 'DeadRfSecret-4'}},
    }, 'status', '-vvv')
    out = run.stdout + run.stderr
    assert run.returncode != 0
    for secret in ['WrongIpmiSecret-1', 'WrongRfSecret-2', argv_secret, stdin_secret, 'DeadBmcSecret-3',
                   'DeadRfSecret-4', *lab.peers.secrets]:
        assert secret not in out, f'{secret} in -vvv output'
    # what the inventory put into a command's argv is on the process list (documented); nothing else is
    for secret in ['WrongIpmiSecret-1', 'WrongRfSecret-2', stdin_secret, 'DeadBmcSecret-3', 'DeadRfSecret-4',
                   *lab.peers.secrets]:
        assert not [c for c in run.ps if secret in c], f'{secret} on a command line'
    assert re.search(r"ipmi-bad: power backend 'ipmi': reading the power state through the BMC at 127\.0\.0\.1:\d+ "
                     r"failed: Incorrect password provided", out), out[-6000:]
    assert re.search(r"rf-bad: power backend 'redfish': reading the power state through the BMC at 127\.0\.0\.1:\d+ "
                     r"failed: .*401", out), out[-6000:]
    assert "cmd-bad: power backend 'command': power_commands.status failed on the controller, rc=3: " \
           "BMC refused password ********" in out, out[-6000:]
    assert "ipmi-nopw: power backend 'ipmi' needs power_ipmi.password" in out, out[-6000:]
    # the BMC not answering
    assert re.search(r"ipmi-dead: power backend 'ipmi': reading the power state through the BMC at 127\.0\.0\.1:\d+ "
                     r"failed: no answer from the BMC", out), out[-6000:]
    assert re.search(r"rf-dead: power backend 'redfish': reading the power state through the BMC at 127\.0\.0\.1:\d+ "
                     r"failed: .*Connection refused", out), out[-6000:]


def test_validate_refuses_a_wrong_value_a_misspelt_key_and_a_missing_password_touching_nothing(lab):
    run = lab.play({
        'bad-backend': {'power_backend': 'ipmmi'},
        'typo-key': {'power_backend': 'ipmi', 'power_ipmi': {'name': 'bmc', 'user': 'u', 'passwd': 'TypoSecret-5'}},
        'no-mac': {'power_backend': 'wol', 'power_wol': {'broadcast': '127.0.0.1'}},
    }, 'validate')
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert 'value of power_backend must be one of: none, command, ipmi, redfish, wol, got: ipmmi' in out, out[-4000:]
    assert re.search(r'passwd.*power_ipmi|power_ipmi.*passwd', out), out[-4000:]
    assert "no-mac: power backend 'wol' needs power_wol.mac" in out, out[-4000:]
    assert 'TypoSecret-5' not in out
