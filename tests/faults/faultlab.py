# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fault matrix's view of the lab: run the real playbooks (optionally killing the controller mid-run, as a
dead laptop or a killed CI job does), and read the real outcome - Ceph flags and health, cordons, which hosts
run, the workloads' data checksums, the record on the controller.

Environment: the incident lab (make lab-up TOPOLOGY=incident); FAULTS_LOG_DIR keeps each playbook's output
(default .build/faults).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / 'inventories' / 'lab' / 'hosts.yml'
GROUP_VARS = REPO / 'inventories' / 'lab' / 'group_vars' / 'lab.yml'
KUBECONFIG = REPO / 'inventories' / 'lab' / 'kubeconfig'
VBIN = REPO / '.venv' / 'bin'
POWER = REPO / 'lab' / 'power'
LOG_DIR = Path(os.environ.get('FAULTS_LOG_DIR', REPO / '.build' / 'faults'))
CEPH = ['timeout', '-k', '5', '60', 'ceph', '--connect-timeout', '10', '--rados_mon_op_timeout=20',
        '--rados_osd_op_timeout=20']


def env():
    e = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / '.build' / 'collections'), ANSIBLE_NOCOLOR='1',
             ANSIBLE_FORCE_COLOR='0', ANSIBLE_STDOUT_CALLBACK='default', PYTHONUNBUFFERED='1')
    e.pop('ANSIBLE_CALLBACKS_ENABLED', None)
    return e


def topology():
    return json.loads((REPO / 'lab' / '.state' / 'topology.json').read_text())


def hosts_with(role):
    return [h['name'] for h in topology()['hosts'] if role in h['roles']]


def all_hosts():
    return [h['name'] for h in topology()['hosts']]


def record_path():
    return Path(yaml.safe_load(GROUP_VARS.read_text())['blackstart_state_file'])


def record():
    p = record_path()
    return json.loads(p.read_text()) if p.exists() else {}


def clear_records():
    p = record_path()
    for f in p.parent.glob(p.stem + '*'):
        f.unlink()


def ip_of(host):
    return next(h['ip'] for h in topology()['hosts'] if h['name'] == host)


def ssh(host, *argv, timeout=120, check=True):
    ip = ip_of(host)
    key = REPO / 'lab' / '.state' / 'ssh' / 'id_ed25519'
    cmd = ['ssh', '-i', str(key), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
           '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10', 'root@' + ip, ' '.join(argv)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if check:
        assert p.returncode == 0, '%s on %s: rc=%s %s' % (' '.join(argv), host, p.returncode, p.stderr)
    return p


def power(action, host):
    p = subprocess.run([str(POWER), action, host], capture_output=True, text=True, timeout=300, cwd='/', check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def running(host):
    return power('status', host).endswith(': running')


def live_mon():
    return next(h for h in hosts_with('ceph_mon') if running(h))


def ceph(*args):
    p = ssh(live_mon(), *(CEPH + list(args) + ['--format', 'json']))
    return json.loads(p.stdout)


def osd_flags():
    """The OSD map flags (pause for pauserd+pausewr), without the ones Ceph always has."""
    always = {'sortbitwise', 'recovery_deletes', 'purged_snapdirs', 'pglog_hardlimit'}
    return sorted(set(ceph('osd', 'dump')['flags'].split(',')) - always - {''})


def kubectl(*args, check=True):
    p = subprocess.run([str(VBIN / 'kubectl'), '--kubeconfig', str(KUBECONFIG), '--request-timeout=20s'] + list(args),
                       capture_output=True, text=True, timeout=120, check=False)
    if check:
        assert p.returncode == 0, 'kubectl %s: %s' % (' '.join(args), p.stderr)
    return p


def cordoned():
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    return sorted(n['metadata']['name'] for n in nodes if n['spec'].get('unschedulable'))


def claims_and_nodes():
    """[(pv, node)] for every pod using a claim."""
    out = []
    for pod in json.loads(kubectl('get', 'pods', '-A', '-o', 'json').stdout)['items']:
        for vol in pod['spec'].get('volumes', []):
            claim = vol.get('persistentVolumeClaim', {}).get('claimName')
            if claim and pod['spec'].get('nodeName'):
                pv = kubectl('get', 'pvc', '-n', pod['metadata']['namespace'], claim, '-o',
                             'jsonpath={.spec.volumeName}').stdout.strip()
                out.append((pv, pod['spec']['nodeName']))
    return sorted(set(out))


def verify_volumes(timeout=180):
    """Every volume's data checksums, as the workloads wrote them before (verify-volume on the pod's node)."""
    results = {}
    for pv, node in claims_and_nodes():
        deadline = time.monotonic() + timeout
        while True:
            p = ssh(node, 'verify-volume', '--pv', pv, check=False)
            if p.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(5)
        results[pv] = (p.returncode, (p.stdout + p.stderr).strip()[-300:])
    return results


def healthy(allow=()):
    """None when the lab is as make lab-up leaves it (every host on, HEALTH_OK but for the checks allowed, pods
    Running), else what is not."""
    try:
        return _healthy(allow)
    except (AssertionError, subprocess.SubprocessError, ValueError, StopIteration) as exc:
        return repr(exc)


def _healthy(allow):
    off = [h for h in all_hosts() if not running(h)]
    if off:
        return 'hosts off: %s' % off
    status = ceph('status')
    checks = sorted(set(status['health']['checks']) - set(allow))
    if checks:
        return 'ceph %s: %s' % (status['health']['status'], checks)
    pods = json.loads(kubectl('get', 'pods', '-A', '-o', 'json').stdout)['items']
    bad = ['%s/%s %s' % (p['metadata']['namespace'], p['metadata']['name'], p['status'].get('phase'))
           for p in pods if p['status'].get('phase') != 'Running']
    return 'pods not Running: %s' % bad if bad else None


def wait_until_ceph(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'ceph did not reach the state within %ss' % timeout
        time.sleep(3)


def wait_healthy(timeout=600, allow=()):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = healthy(allow)
        if last is None:
            return
        time.sleep(5)
    raise AssertionError('lab not healthy after %ss: %s' % (timeout, last))


@dataclass
class Run:
    rc: int
    output: str
    killed: bool
    seconds: float
    log: Path

    def ok(self):
        return self.rc == 0 and not self.killed


def play(name, extra=None, check=False, kill_after=None, timeout=1800, tag=''):
    """Run playbooks/<name>.yml on the lab. ``kill_after``: a regex; at the first task banner after a line that
    matches it, the controller is killed (SIGKILL to ansible-playbook and everything it started), as if the
    laptop running it died. Returns a Run; the output is kept under LOG_DIR."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / ('%s-%s%s.log' % (time.strftime('%H%M%S'), name, ('-' + tag) if tag else ''))
    argv = [str(VBIN / 'ansible-playbook'), '-i', str(INVENTORY), str(REPO / 'playbooks' / (name + '.yml'))]
    if extra:
        argv += ['-e', json.dumps(extra)]
    if check:
        argv.append('--check')
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(REPO),
                            env=env(), start_new_session=True)
    lines, armed, killed = [], False, False
    pattern = re.compile(kill_after) if kill_after else None
    with open(log, 'w') as out:
        for line in proc.stdout:
            out.write(line)
            lines.append(line)
            if pattern and not killed:
                if armed and line.startswith('TASK ['):
                    os.killpg(proc.pid, signal.SIGKILL)
                    killed = True
                    out.write('\n*** controller killed here (fault test) ***\n')
                elif pattern.search(line):
                    armed = True
            if time.monotonic() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                raise AssertionError('%s did not end within %ss; log %s' % (name, timeout, log))
        rc = proc.wait()
    return Run(rc=rc, output=''.join(lines), killed=killed, seconds=time.monotonic() - t0, log=log)


def summary(run):
    """The lines of a run's final debug messages, for assertions on what it reported."""
    return run.output


def etcd_health(via):
    """{endpoint: healthy} for every etcd member, as etcdctl on ``via`` (a running master) sees it."""
    cp = yaml.safe_load(GROUP_VARS.read_text())['k8s_control_plane_etcd']
    p = ssh(via, 'ETCDCTL_API=3', 'etcdctl', '--endpoints=' + ','.join(cp['endpoints']), '--cacert', cp['cacert'],
            '--cert', cp['cert'], '--key', cp['key'], '--command-timeout=5s', '--dial-timeout=3s',
            'endpoint', 'health', '-w', 'json', check=False)
    return {e['endpoint']: e['health'] for e in json.loads(p.stdout or '[]')}
