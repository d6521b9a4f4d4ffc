# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The power backends against real protocol peers that really power lab hosts off and on.

Needs the `power` lab (lab/bmc/topology.yml: pw1..pw3, no cluster roles) up as its own instance:
`make lab-power-test` brings it up (BLACKSTART_LAB_INSTANCE=3 by default), runs this suite and takes it down.
The emulators of lab/bmc run on 127.0.0.1 (the WoL listener on the lab bridge's broadcast address) and drive
`lab/power` of that instance."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.unit.pswatch import PsWatch

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / '.build' / 'collections'
INSTANCE = os.environ.get('BLACKSTART_LAB_INSTANCE', '3')
STATE = ROOT / 'lab' / ('.state' if INSTANCE in ('', '0') else f'.state-{INSTANCE}')
INVENTORY = (ROOT / 'inventories' / 'lab' if INSTANCE in ('', '0') else STATE / 'inventory') / 'hosts.yml'
sys.path.insert(0, str(ROOT / 'lab' / 'bmc'))
from peers import Peers  # noqa: E402  pylint: disable=wrong-import-position

PLAYBOOK = '''
- name: The power role against the lab, step by step
  hosts: all
  gather_facts: false
  tasks:
    - name: Run each step
      ansible.builtin.include_tasks: step.yml
      loop: "{{ steps }}"
      loop_control:
        loop_var: step
'''
# A step is an entry point of the role, or 'lab': ask lab/power what is really true.
STEP = '''
- name: Run the role's entry point
  when: step != 'lab'
  ansible.builtin.include_role:
    name: blackstart.cluster.power
    tasks_from: "{{ step }}"
- name: Show the state read
  when: step == 'status'
  ansible.builtin.debug:
    msg: "POWER {{ inventory_hostname }} {{ power_is_on }}"
- name: Ask lab/power
  when: step == 'lab'
  ansible.builtin.command:
    argv: ["{{ lab_power }}", status, "{{ inventory_hostname }}"]
  delegate_to: localhost
  register: lab_status
  changed_when: false
- name: Show what lab/power says
  when: step == 'lab'
  ansible.builtin.debug:
    msg: "LAB {{ lab_status.stdout }}"
'''


def lab_env() -> dict:
    return dict(os.environ, BLACKSTART_LAB_INSTANCE=INSTANCE)


def lab_power(action: str, host: str) -> str:
    p = subprocess.run([str(ROOT / 'lab' / 'power'), action, host], capture_output=True, text=True, env=lab_env(),
                       timeout=200, check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def is_on(host: str) -> bool:
    return lab_power('status', host) == f'{host}: running'


class Lab:
    def __init__(self, tmp: Path, peers: Peers, hostvars: dict):
        self.tmp, self.peers, self.hostvars = tmp, peers, hostvars

    def ssh(self, host: str, *cmd: str, check: bool = True, script: str | None = None) -> subprocess.CompletedProcess:
        """Run CMD on HOST over SSH (words joined by ssh, so keep them simple), or SCRIPT with sh on its stdin."""
        cmd = cmd or ('sh', '-s')
        hv = self.hostvars[host]
        p = subprocess.run(['ssh', '-i', hv['ansible_ssh_private_key_file'], '-o', 'BatchMode=yes',
                            '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
                            '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5', f"root@{hv['ansible_host']}", *cmd],
                           capture_output=True, text=True, timeout=60, check=False, input=script)
        assert not check or p.returncode == 0, p.stderr
        return p

    def close_ssh_master(self, host: str) -> None:
        """Close Ansible's persisted SSH connection to HOST (its ControlPath is in the lab state)."""
        hv = self.hostvars[host]
        ctl = re.search(r'ControlPath=(\S+)', hv['ansible_ssh_common_args']).group(1)
        subprocess.run(['ssh', '-O', 'exit', '-o', f'ControlPath={ctl}', f"root@{hv['ansible_host']}"],
                       capture_output=True, timeout=10, check=False)

    def play(self, hosts: dict, steps: str | list[str], *args: str, timeout: float = 400):
        """Run the role's entry points STEPS ('lab': lab/power status) on HOSTS ({host: power variables}, in
        parallel) at -vvv, in one ansible-playbook. Returns the run with .out, .ps (command lines seen), .seconds,
        .power {host: [states read]}, .lab {host: [what lab/power said]}."""
        steps = [steps] if isinstance(steps, str) else steps
        inv = self.tmp / 'inventory.yml'
        inv.write_text(yaml.safe_dump({'all': {'hosts': {
            h: {**self.hostvars[h], 'power_poll_interval': 1, **pv} for h, pv in hosts.items()}}}))
        inv.chmod(0o600)  # it holds the BMC passwords, as a vault would
        pb = self.tmp / 'power.yml'
        pb.write_text(PLAYBOOK)
        (self.tmp / 'step.yml').write_text(STEP)
        env = dict(lab_env(), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR='1',
                   ANSIBLE_LOCALHOST_WARNING='0', ANSIBLE_PYTHON_INTERPRETER=sys.executable)
        t0 = time.monotonic()
        with PsWatch() as ps:
            run = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-vvv', '-i', str(inv),
                                  str(pb), '-e', json.dumps({'steps': steps}),
                                  '-e', f"lab_power={ROOT / 'lab' / 'power'}", *args],
                                 capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, check=False)
        run.seconds = time.monotonic() - t0
        run.out = run.stdout + run.stderr
        run.ps = ps.lines
        run.power, run.lab = {h: [] for h in hosts}, {h: [] for h in hosts}
        for kind, h, v in re.findall(r'"(POWER|LAB) (\S+?):? (True|False|running|stopped)"', run.stdout):
            (run.power if kind == 'POWER' else run.lab)[h].append(v in ('True', 'running') if kind == 'POWER' else v)
        for secret in self.peers.secrets:
            assert secret not in run.out, f'a BMC password is in the -vvv output of {steps}'
            assert not [c for c in run.ps if secret in c], f'a BMC password was on a command line during {steps}'
        what = ', '.join(f"{h} ({pv.get('power_backend')})" for h, pv in hosts.items())
        print(f'{",".join(steps)} on {what}: rc={run.returncode} in {run.seconds:.1f}s')
        return run


@pytest.fixture(scope='session')
def lab(tmp_path_factory):
    if not INVENTORY.exists():
        pytest.skip(f'no lab instance {INSTANCE} ({INVENTORY}); run `make lab-power-test`')
    inv = yaml.safe_load(INVENTORY.read_text())
    lab_group = inv['all']['children']['lab']
    hosts = ['pw1', 'pw2', 'pw3']
    missing = [h for h in hosts if h not in lab_group['hosts']]
    if missing:
        pytest.skip(f'lab instance {INSTANCE} is not the power topology (no {missing}); run `make lab-power-test`')
    hostvars = {h: {**lab_group['vars'], **lab_group['hosts'][h]} for h in hosts}
    # the lab's own command backend (what make lab-up writes for every lab: lab/power of this instance)
    group_vars = yaml.safe_load((INVENTORY.parent / 'group_vars' / 'lab.yml').read_text())
    for h in hosts:
        if not is_on(h):
            lab_power('on', h)
    subnet = hostvars['pw1']['ansible_host'].rsplit('.', 1)[0]
    tmp = tmp_path_factory.mktemp('lab-power')
    peers = Peers(tmp / 'bmc', hosts, {h: hostvars[h]['lab_mac'] for h in hosts}, env=lab_env(),
                  wol_address=f'{subnet}.255')  # the lab bridge's broadcast address
    with peers:
        lab = Lab(tmp, peers, hostvars)
        lab.command_vars = {'power_backend': 'command', 'power_commands': group_vars['blackstart_power_commands']}
        yield lab
        logs = {n: peers.log(n) for n in ('ipmi', 'redfish', 'wol')}
    for h in hosts:  # leave the lab as found: every host on
        if not is_on(h):
            lab_power('on', h)
    for n, text in logs.items():
        assert 'Traceback' not in text, f'{n} emulator: {text[-3000:]}'
