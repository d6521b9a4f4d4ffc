# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the Molecule verifiers read from the lab: real hosts over SSH (testinfra's ansible backend), the real
kubectl on the controller, and the state files the playbooks wrote."""

from __future__ import annotations

import datetime
import glob
import json
import os
import subprocess

import testinfra
import yaml

PROJECT = os.environ.get('MOLECULE_PROJECT_DIRECTORY') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
INVENTORY = os.path.join(PROJECT, 'inventories', 'lab', 'hosts.yml')
KUBECTL = [os.path.join(PROJECT, '.venv', 'bin', 'kubectl'), '--kubeconfig', os.path.join(PROJECT, 'inventories', 'lab', 'kubeconfig')]


def groups():
    out = subprocess.run([os.path.join(PROJECT, '.venv', 'bin', 'ansible-inventory'), '-i', INVENTORY, '--list'],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    return dict((g, v.get('hosts', [])) for g, v in data.items() if isinstance(v, dict))


def host(name):
    return testinfra.get_host('ansible://' + name, ansible_inventory=INVENTORY)


def ceph(args):
    mon = groups()['ceph_mon'][0]
    return json.loads(host(mon).check_output('ceph %s --format json 2>/dev/null' % args))


def kubectl(*args):
    return json.loads(subprocess.run(KUBECTL + list(args) + ['-o', 'json'], capture_output=True, text=True,
                                     check=True, timeout=60).stdout)


def state_file():
    """The record's path, as the lab's generated inventory sets it (blackstart_state_file)."""
    with open(os.path.join(PROJECT, 'inventories', 'lab', 'group_vars', 'lab.yml')) as f:
        return yaml.safe_load(f)['blackstart_state_file']


def last_state():
    """The record of the last power-off: the live state file, else the newest retired one."""
    live = state_file()
    done = sorted(glob.glob(live[:-len('.json')] + '.done-*.json'))
    path = live if os.path.exists(live) else (done[-1] if done else None)
    if path is None:
        return {}
    with open(path) as f:
        return json.load(f)


def utc_timestamp(iso):
    """Seconds since the epoch of an ISO time the playbooks wrote (UTC, with or without an offset)."""
    when = datetime.datetime.fromisoformat(iso.replace('Z', '+00:00'))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def stop_times(name, units, since, until):
    """Wall-clock times (s) at which systemd finished stopping ``units`` on host ``name`` between ``since`` and
    ``until`` (whole seconds, widened by one on each side: the journal filter has a one-second grain)."""
    h = host(name)
    out = h.check_output('journalctl -o json --since=@%d --until=@%d JOB_TYPE=stop JOB_RESULT=done'
                         % (int(since) - 1, int(until) + 1))
    times = []
    for line in out.splitlines():
        rec = json.loads(line)
        unit = rec.get('UNIT', '')
        if any(unit == u or unit == u + '.service' or (u.endswith('@') and unit.startswith(u)) for u in units):
            times.append(int(rec['__REALTIME_TIMESTAMP']) / 1e6)
    return times


def power_on_again():
    """Run power_on.yml once more; return {host: changed count} from the recap."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT, '.build', 'collections'), ANSIBLE_NOCOLOR='1')
    run = subprocess.run([os.path.join(PROJECT, '.venv', 'bin', 'ansible-playbook'), '-i', INVENTORY,
                          os.path.join(PROJECT, 'playbooks', 'power_on.yml')],
                         capture_output=True, text=True, env=env, timeout=1800, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    recap = run.stdout.split('PLAY RECAP')[-1]
    changed = {}
    for line in recap.strip().splitlines():
        if 'changed=' in line:
            name = line.split(':')[0].strip()
            changed[name] = int(line.split('changed=')[1].split()[0])
    return changed
