# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each backend powers a real lab host off and on through its protocol peer: the role's status, power_off and
power_on task files run by ansible-playbook at -vvv; `lab/power status` says what really happened; no BMC
password in the output or on any command line (checked in Lab.play)."""

from __future__ import annotations

import re
import threading
import time

from tests.lab_power.conftest import is_on, lab_power

CASES = {'pw1': ('ipmi', 'ipmi', r'pw1: chassis status -> off'), 'pw2': ('redfish', 'redfish', r'pw2: Reset On'),
         'pw3': ('wol', 'wol', r'magic packet for \S+ from \S+ -> pw3')}


def test_each_backend_powers_its_host_off_and_on(lab):
    """pw1 through IPMI, pw2 through Redfish, pw3 off by SSH and on by Wake-on-LAN, all at once."""
    assert all(is_on(h) for h in CASES)
    run = lab.play({h: lab.peers.vars(h, b) for h, (b, _, _) in CASES.items()},
                   ['status', 'power_off', 'lab', 'status', 'power_on', 'lab', 'status'])
    assert run.returncode == 0, run.out[-6000:]
    for host, (backend, log, seen) in CASES.items():
        # read on; powered off (lab/power: stopped); read off; powered on (lab/power: running); read on
        assert run.power[host] == [True, False, True], (host, run.out[-6000:])
        assert run.lab[host] == ['stopped', 'running'], (host, run.out[-6000:])
        assert is_on(host)
        assert lab.ssh(host, 'systemctl', 'is-system-running', check=False).stdout.strip() in ('running', 'degraded')
        assert re.search(seen, lab.peers.log(log)), (backend, lab.peers.log(log)[-3000:])


def test_a_host_ssh_cannot_reach_is_soft_powered_off_by_its_bmc(lab):
    """sshd stopped on pw1 (IPMI) and pw2 (Redfish): the OS poweroff cannot be delivered, the BMC is asked.
    pw3 meanwhile goes through the lab's own `command` backend (lab/power), the default of every lab."""
    hosts = {'pw1': ('ipmi', r'power off pw1'), 'pw2': ('redfish', r'pw2: Reset GracefulShutdown')}
    try:
        for h in hosts:
            lab.ssh(h, 'systemctl', 'stop', 'ssh.socket', 'ssh.service', check=False)
            lab.close_ssh_master(h)  # else Ansible would still reach it through its persisted connection
            assert lab.ssh(h, 'true', check=False).returncode != 0, f'sshd still answers on {h}'
        run = lab.play({**{h: lab.peers.vars(h, b) for h, (b, _) in hosts.items()}, 'pw3': lab.command_vars},
                       ['power_off', 'lab', 'power_on', 'lab'])
        assert run.returncode == 0, run.out[-6000:]
        for h, (backend, said) in hosts.items():
            assert f'asking the BMC for a soft off ({backend})' in run.out, run.out[-6000:]
            assert run.lab[h] == ['stopped', 'running'], (h, run.out[-6000:])
            assert re.search(said, lab.peers.log(backend)), lab.peers.log(backend)[-3000:]
            assert is_on(h) and lab.ssh(h, 'true', check=False).returncode == 0
        assert 'SSH could not deliver the poweroff' in run.out
        assert run.lab['pw3'] == ['stopped', 'running'] and is_on('pw3'), run.out[-6000:]
    finally:
        for h in hosts:  # a host left without sshd: power-cycle it (sshd is enabled)
            if lab.ssh(h, 'true', check=False).returncode != 0:
                lab_power('off', h)
                lab_power('on', h)


def test_backend_none_waits_for_someone_to_power_the_host_on(lab):
    def operator():  # powers the host on by hand once it is off
        deadline = time.monotonic() + 120
        while is_on('pw3') and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)
        lab_power('on', 'pw3')
    t = threading.Thread(target=operator)
    t.start()
    run = lab.play({'pw3': {'power_backend': 'none', 'power_on_timeout': 120}}, ['status', 'power_off', 'power_on', 'lab'])
    t.join()
    assert run.returncode == 0, run.out[-5000:]
    assert run.power['pw3'] == [True] and run.lab['pw3'] == ['running'] and is_on('pw3')


NEVER_SETTLES = '''[Unit]
Description=blackstart test: a start job that never finishes
[Service]
Type=oneshot
ExecStart=/bin/sleep infinity
[Install]
WantedBy=multi-user.target
'''
FAILS = '''[Unit]
Description=blackstart test: a unit that fails at boot
[Service]
Type=oneshot
ExecStart=/bin/false
[Install]
WantedBy=multi-user.target
'''


def test_a_boot_that_never_settles_fails_within_the_bound_naming_the_job_and_degraded_is_not_fatal(lab):
    host, pv = 'pw2', {**lab.peers.vars('pw2', 'redfish'), 'power_settle_timeout': 8}
    lab.ssh(host, script=f"set -e\ncat > /etc/systemd/system/bs-never-settles.service <<'EOF'\n{NEVER_SETTLES}EOF\n"
            f"cat > /etc/systemd/system/bs-fails.service <<'EOF'\n{FAILS}EOF\n"
            'systemctl daemon-reload\nsystemctl enable -q bs-never-settles.service bs-fails.service\n')
    try:
        t0 = time.monotonic()
        run = lab.play({host: pv}, ['power_off', 'lab', 'power_on'])
        assert run.lab[host] == ['stopped'], run.out[-5000:]
        assert run.returncode != 0, run.out[-5000:]
        assert run.seconds < 120, f'power_off+power_on took {run.seconds:.0f}s with power_settle_timeout=8'
        msg = re.search(r'pw2: systemd has not finished booting after power_settle_timeout=8 s.*?then rerun\.', run.out, re.S)
        assert msg, run.out[-5000:]
        assert 'still starting (timed out)' in msg.group(0) and 'bs-never-settles.service start' in msg.group(0) \
            and 'Failed units: bs-fails.service' in msg.group(0), msg.group(0)
        print(f'settle timeout reported after {time.monotonic() - t0:.1f}s: {msg.group(0)}')
        lab.ssh(host, 'systemctl', 'disable', '-q', 'bs-never-settles.service')
        lab.ssh(host, 'systemctl', 'stop', 'bs-never-settles.service')
        run = lab.play({host: pv}, 'power_on')
        assert run.returncode == 0, run.out[-5000:]
        assert 'pw2: booted, degraded - failed units: bs-fails.service' in run.out, run.out[-5000:]
    finally:
        lab.ssh(host, script='systemctl disable -q bs-never-settles.service bs-fails.service; '
                'systemctl stop bs-never-settles.service; systemctl reset-failed; '
                'rm -f /etc/systemd/system/bs-*.service; systemctl daemon-reload', check=False)
