# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault matrix (issue 8): a drain blocked by a PodDisruptionBudget, against REAL Kubernetes.

The control plane is the upstream one lab/upstream builds (etcd, kube-apiserver, kube-controller-manager with its
disruption controller, kube-scheduler, kubectl 1.37) with two KWOK nodes, started by lab/upstream/kwok-cluster.sh;
the incident lab's Kubernetes is a stand-in without PDBs. blackstart.cluster.k8s_cordon runs through
ansible-playbook (k8s_cordon.yml) as the k8s_workers role runs it: every node cordoned, then all drained together.

The scenario as a power-off meets it: a Deployment of 2 replicas, one per node (topology spread), and a
PodDisruptionBudget minAvailable 1. Draining both nodes at once, one pod is evicted (the budget allows one), its
replacement cannot land on a cordoned node, so the other pod's eviction is refused until the drain times out.

Needs the built binaries (make lab-upstream UPSTREAM_COMPONENTS="etcd kwok kubernetes"; `make faults-tier` builds
them first) and the venv (make venv). Logs (the cluster's, every play's): .build/faults/drain-pdb/ (under
FAULTS_LOG_DIR when set). BS_CAPTURE=1 also writes the real outputs under tests/unit/fixtures/k8s/upstream/ (the
unit tests replay them).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'lab' / 'upstream' / 'kwok-cluster.sh'
PLAYBOOK = Path(__file__).with_name('k8s_cordon.yml')
VBIN = REPO / '.venv' / 'bin'
BUILD = 'make lab-upstream UPSTREAM_COMPONENTS="etcd kwok kubernetes"'
LOGS = Path(os.environ.get('FAULTS_LOG_DIR', REPO / '.build' / 'faults')) / 'drain-pdb'
CAPTURE = REPO / 'tests' / 'unit' / 'fixtures' / 'k8s' / 'upstream'
NODES = ['kwok-node-1', 'kwok-node-2']
DRAIN_TIMEOUT = 30
# The module's own run (the task's duration) must end within drain_timeout + 15 s: less than 2 x drain_timeout, so
# draining one node after the other cannot pass. The whole ansible-playbook gets more (its start on a busy machine).
TASK_MARGIN = 15
PLAY_MARGIN = 60
IMAGE = 'registry.k8s.io/pause:3.10.2'  # never pulled: KWOK runs no containers


def upstream_bin():
    state = os.environ.get('UPSTREAM_STATE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'blackstart', 'upstream')
    return Path(state) / 'bin'


def iso(value):
    return datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))


class Cluster(object):
    def __init__(self, directory):
        self.dir = directory
        env = dict(line.split('=', 1) for line in (directory / 'env').read_text().splitlines() if '=' in line)
        self.kubeconfig = env['KUBECONFIG']
        self.kubectl = env['KUBECTL']

    def k(self, *args, stdin=None, check=True, timeout=60):
        p = subprocess.run([self.kubectl, '--kubeconfig', self.kubeconfig] + list(args), input=stdin,
                           capture_output=True, text=True, timeout=timeout, check=False)
        if check:
            assert p.returncode == 0, 'kubectl %s: rc=%s %s %s' % (' '.join(args), p.returncode, p.stdout, p.stderr)
        return p

    def get(self, *args):
        return json.loads(self.k('get', *(list(args) + ['-o', 'json'])).stdout)

    def apply(self, obj):
        self.k('apply', '-f', '-', stdin=json.dumps(obj))

    def pods(self, ns):
        return self.get('pods', '-n', ns, '-l', 'app=web')['items']

    def nodes(self):
        return dict((n['metadata']['name'], n) for n in self.get('nodes')['items'])

    def pdb(self, ns):
        return self.get('pdb', '-n', ns, 'web')

    def signal(self, name, sig):
        """Send ``sig`` to the process kwok-cluster.sh started as ``name`` (checked to still be that binary)."""
        for line in (self.dir / 'pids').read_text().splitlines():
            part, pid, exe = line.split()
            if part == name:
                assert os.readlink('/proc/%s/exe' % pid) == exe, '%s (pid %s) is no longer running' % (name, pid)
                os.kill(int(pid), sig)
                return
        raise AssertionError('kwok-cluster.sh started no %s' % name)

    @staticmethod
    def wait(what, probe, timeout=120):
        """Poll ``probe`` (returns a truthy value when done, else what it saw) until it passes or ``timeout``."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = probe()
            if seen is True or (seen and not isinstance(seen, str)):
                return seen
            time.sleep(0.5)
        pytest.fail('%s: not after %s s; last seen: %s' % (what, timeout, seen), pytrace=False)

    def play(self, state, nodes, drain_timeout=DRAIN_TIMEOUT):
        """Run k8s_cordon.yml once. Returns (rc, the module's result, wall seconds, the task's own seconds)."""
        extra = dict(cordon_kubectl=self.kubectl, cordon_kubeconfig=self.kubeconfig, cordon_nodes=list(nodes),
                     cordon_state=state, cordon_drain_timeout=drain_timeout,
                     ansible_python_interpreter=str(VBIN / 'python'))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / '.build' / 'collections'),
                   ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_NOCOLOR='1',
                   ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
        env.pop('ANSIBLE_CALLBACKS_ENABLED', None)  # another callback printing would break the JSON on stdout
        t0 = time.monotonic()
        p = subprocess.run([str(VBIN / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', str(PLAYBOOK),
                            '-e', json.dumps(extra)], cwd=str(REPO), env=env, capture_output=True, text=True,
                           timeout=drain_timeout + 300, check=False)
        wall = time.monotonic() - t0
        LOGS.mkdir(parents=True, exist_ok=True)
        with open(LOGS / 'plays.log', 'a') as log:
            log.write('=== %s %s rc=%s %.1f s\n%s\n%s\n' % (state, ' '.join(nodes), p.returncode, wall, p.stdout, p.stderr))
        try:
            task = json.loads(p.stdout)['plays'][0]['tasks'][0]
        except (ValueError, KeyError, IndexError):
            pytest.fail('ansible-playbook printed no task result (rc=%s): %s %s' % (p.returncode, p.stdout[-2000:],
                                                                                   p.stderr[-2000:]), pytrace=False)
        took = (iso(task['task']['duration']['end']) - iso(task['task']['duration']['start'])).total_seconds()
        return p.returncode, task['hosts']['localhost'], wall, took


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    missing = [b for b in ('etcd', 'etcdctl', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl',
                           'kwok') if not os.access(str(upstream_bin() / b), os.X_OK)]
    if missing:
        pytest.fail('the real Kubernetes binaries are not built (%s missing in %s): build them with  %s'
                    % (', '.join(missing), upstream_bin(), BUILD), pytrace=False)
    if not (VBIN / 'ansible-playbook').exists() or not (REPO / '.build' / 'collections').exists():
        pytest.fail('no project venv or collection link: run  make venv', pytrace=False)
    directory = tmp_path_factory.mktemp('kwok-cluster')
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / 'plays.log').write_text('')
    t0 = time.monotonic()
    p = subprocess.run([str(SCRIPT), 'start', '--nodes', str(len(NODES)), '--dir', str(directory)],
                       capture_output=True, text=True, timeout=1200, check=False)
    (LOGS / 'start.log').write_text(p.stdout + p.stderr + '\nrc=%s after %.1f s\n' % (p.returncode, time.monotonic() - t0))
    try:
        assert p.returncode == 0, 'kwok-cluster.sh start failed (rc=%s):\n%s\n%s' % (p.returncode, p.stdout, p.stderr)
        yield Cluster(directory)
    finally:
        s = subprocess.run([str(SCRIPT), 'stop', str(directory)], capture_output=True, text=True, timeout=300, check=False)
        (LOGS / 'stop.log').write_text(s.stdout + s.stderr)
        for log in directory.glob('*.log'):
            shutil.copy(str(log), str(LOGS / log.name))


def capturing():
    return os.environ.get('BS_CAPTURE') == '1'


def capture(cluster, name, argv, rc, stdout, stderr):
    """Write one real command's {argv, rc, stdout, stderr} as the unit tests' fixtures hold them (temp paths as
    /TMP)."""
    if not capturing():
        return
    def scrub(text):
        return text.replace(str(cluster.dir), '/TMP').replace(os.path.dirname(cluster.kubectl), '/UPSTREAM/bin')
    CAPTURE.mkdir(parents=True, exist_ok=True)
    data = dict(argv=[scrub(a) for a in argv], rc=rc, stdout=scrub(stdout), stderr=scrub(stderr))
    (CAPTURE / (name + '.json')).write_text(json.dumps(data, indent=1, sort_keys=True) + '\n')


def capture_get(cluster, name, *words):
    """Capture `kubectl get WORDS -o json` as the module runs it."""
    if capturing():
        argv = [cluster.kubectl, '--kubeconfig', cluster.kubeconfig, 'get'] + list(words) + ['-o', 'json']
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        capture(cluster, name, argv, p.returncode, p.stdout, p.stderr)


# ------------------------------------------------------------------------------------------- the workload

def deployment(ns):
    labels = dict(app='web')
    return dict(apiVersion='apps/v1', kind='Deployment', metadata=dict(name='web', namespace=ns), spec=dict(
        replicas=2, selector=dict(matchLabels=labels), template=dict(metadata=dict(labels=labels), spec=dict(
            topologySpreadConstraints=[dict(maxSkew=1, topologyKey='kubernetes.io/hostname',
                                            whenUnsatisfiable='DoNotSchedule', labelSelector=dict(matchLabels=labels))],
            # KWOK deletes an evicted pod at a random moment before its grace period ends (as a slow process would)
            terminationGracePeriodSeconds=5, containers=[dict(name='web', image=IMAGE)]))))


def budget(ns, **spec):
    return dict(apiVersion='policy/v1', kind='PodDisruptionBudget', metadata=dict(name='web', namespace=ns),
                spec=dict(selector=dict(matchLabels=dict(app='web')), **spec))


def running(pod):
    return (pod['status'].get('phase') == 'Running' and not pod['metadata'].get('deletionTimestamp')
            and any(c['type'] == 'Ready' and c['status'] == 'True' for c in pod['status'].get('conditions') or []))


def one_running_per_node(cluster, ns):
    def probe():
        pods = cluster.pods(ns)
        on = dict((p['spec'].get('nodeName'), p) for p in pods if running(p))
        if len(pods) == 2 and sorted(on) == NODES:
            return on
        return ', '.join('%s %s on %s' % (p['metadata']['name'], p['status'].get('phase'), p['spec'].get('nodeName'))
                         for p in pods) or 'no pod'
    return cluster.wait('2 web pods Running in %s, one on each node' % ns, probe)


def pdb_observed(cluster, ns, **want):
    """The disruption controller has seen the budget's spec (else the eviction API refuses while it catches up)."""
    def probe():
        b = cluster.pdb(ns)
        st = b.get('status') or {}
        if st.get('observedGeneration') == b['metadata']['generation'] and all(st.get(k) == v for k, v in want.items()):
            return b
        return json.dumps(st, sort_keys=True)
    return cluster.wait('PDB %s/web observed by the disruption controller with %s' % (ns, want), probe)


@pytest.fixture()
def workload(cluster, request):
    """A namespace with the 2-replica Deployment, one pod per node, both Running; deleted afterwards (with every
    pod gone, so that the next scenario drains only its own), the nodes left schedulable."""
    ns = 'shop-%s' % request.node.name.split('_')[1]
    cluster.apply(dict(apiVersion='v1', kind='Namespace', metadata=dict(name=ns)))
    cluster.apply(deployment(ns))
    yield ns, one_running_per_node(cluster, ns)
    cluster.k('uncordon', *NODES)
    cluster.k('delete', 'namespace', ns, '--wait=false')
    cluster.wait('namespace %s deleted with its pods' % ns,
                 lambda: cluster.k('get', 'namespace', ns, check=False).returncode != 0 or 'still there')


def assert_bounded(wall, took):
    assert DRAIN_TIMEOUT <= took < DRAIN_TIMEOUT + TASK_MARGIN, 'the module ran %.1f s (drain_timeout %s): not one ' \
        'drain_timeout for all nodes' % (took, DRAIN_TIMEOUT)
    assert wall < DRAIN_TIMEOUT + PLAY_MARGIN, 'ansible-playbook took %.1f s (drain_timeout %s)' % (wall, DRAIN_TIMEOUT)


# ------------------------------------------------------------------------------------------- the scenarios

@pytest.mark.tier
def test_blocked_a_pdb_stops_the_drain_within_one_timeout_names_it_and_the_nodes_can_be_uncordoned(cluster, workload):
    ns, on = workload
    uid = dict((node, pod['metadata']['uid']) for node, pod in on.items())
    cluster.apply(budget(ns, minAvailable=1))
    pdb_observed(cluster, ns, currentHealthy=2, desiredHealthy=1, disruptionsAllowed=1, expectedPods=2)

    capture_get(cluster, 'nodes_ready', 'nodes')
    capture_get(cluster, 'pods_one_per_node', 'pods', '--all-namespaces')
    capture_get(cluster, 'pdb_allows_one', 'poddisruptionbudgets', '--all-namespaces')

    rc, res, wall, took = cluster.play('drained', NODES)
    if capturing():
        capture(cluster, 'drain_blocked_by_pdb', res['cmd'], res['rc'], res['stdout'], res['stderr'])
        capture(cluster, 'k8s_cordon_blocked_result', ['ansible-playbook', 'tests/faults/k8s_cordon.yml'], rc,
                json.dumps(res, indent=1, sort_keys=True), '')
        capture_get(cluster, 'pdb_blocking', 'poddisruptionbudgets', '--all-namespaces')
        capture_get(cluster, 'pods_after_blocked_drain', 'pods', '--all-namespaces')
    assert rc == 2 and res.get('failed'), (rc, res)
    assert_bounded(wall, took)
    # the eviction API let exactly one pod go (the budget allowed one); the other node's drain was refused
    assert len(res['drain_failed']) == 1, res
    stuck = res['drain_failed'][0]
    freed = [n for n in NODES if n != stuck]
    pod = on[stuck]['metadata']['name']
    assert res['drained_nodes'] == freed
    assert res['blocked'] == [dict(node=stuck, pod=pod, namespace=ns, pdb='web')]
    assert res['changed_nodes'] == NODES and res['already_unschedulable'] == []  # what the power_off record keeps
    assert res['changed'] is True
    assert res['msg'] == (
        'drain failed on %(n)s (each `kubectl drain --timeout=%(t)ss`, run together; the nodes stay cordoned): %(n)s: '
        'pod %(ns)s/%(p)s on %(n)s cannot be evicted: PodDisruptionBudget %(ns)s/web (minAvailable 1; currentHealthy 1, '
        'desiredHealthy 1, disruptionsAllowed 0, expectedPods 2) allows no disruption now. Scale its workload up so '
        'that the budget allows one pod down, relax the PDB (kubectl -n %(ns)s edit pdb web), or power off with '
        'blackstart_emergency=true (cordons without draining; the pods stop with their hosts)'
        % dict(n=stuck, t=DRAIN_TIMEOUT, ns=ns, p=pod))
    # kubectl 1.37's own words, from the real eviction API (HTTP 429) and its --timeout
    assert ('error when evicting pods/"%s" -n "%s" (will retry after 5s): Cannot evict pod as it would violate the '
            'pod\'s disruption budget.' % (pod, ns)) in res['stderr']
    assert 'error when evicting pods/"%s" -n "%s": global timeout reached: %ss' % (pod, ns, DRAIN_TIMEOUT) in res['stderr']

    # what is really there: the protected pod still Running where it was; the evicted one gone, its replacement
    # Pending (every node cordoned); both nodes unschedulable
    pods = cluster.pods(ns)
    by_uid = dict((p['metadata']['uid'], p) for p in pods)
    assert uid[stuck] in by_uid and running(by_uid[uid[stuck]]) and by_uid[uid[stuck]]['spec']['nodeName'] == stuck
    assert uid[freed[0]] not in by_uid, 'the pod on %s was evicted' % freed[0]
    pending = [p for p in pods if p['metadata']['uid'] not in uid.values()]
    assert len(pending) == 1 and pending[0]['status']['phase'] == 'Pending' and not pending[0]['spec'].get('nodeName')
    cond = [c for c in pending[0]['status'].get('conditions') or [] if c['type'] == 'PodScheduled']
    assert cond and cond[0]['reason'] == 'Unschedulable' and 'unschedulable' in cond[0]['message'], cond
    assert all(n['spec'].get('unschedulable') for n in cluster.nodes().values())
    pdb_now = cluster.pdb(ns)
    assert pdb_now['status']['currentHealthy'] == 1 and pdb_now['status']['disruptionsAllowed'] == 0

    # power_on: uncordon exactly what the power_off cordoned; the replacement then lands and the budget is whole
    rc, res, wall, took = cluster.play('uncordoned', res['changed_nodes'])
    assert rc == 0 and res['changed'] and res['changed_nodes'] == NODES and res['already_schedulable'] == [], res
    assert not any(n['spec'].get('unschedulable') for n in cluster.nodes().values())
    one_running_per_node(cluster, ns)
    pdb_observed(cluster, ns, currentHealthy=2, disruptionsAllowed=1)


@pytest.mark.tier
def test_relaxed_with_the_budget_relaxed_the_drain_evicts_every_pod_for_real(cluster, workload):
    ns, on = workload
    uid = set(pod['metadata']['uid'] for pod in on.values())
    cluster.apply(budget(ns, minAvailable=1))
    pdb_observed(cluster, ns, disruptionsAllowed=1)
    # relaxed: the operator's fix the blocked message names (kubectl edit pdb), here to minAvailable 0
    cluster.k('patch', 'pdb', 'web', '-n', ns, '--type', 'merge', '-p', json.dumps(dict(spec=dict(minAvailable=0))))
    pdb_observed(cluster, ns, desiredHealthy=0, disruptionsAllowed=2)

    rc, res, wall, took = cluster.play('drained', NODES)
    assert rc == 0 and res['changed'] and not res.get('failed'), res
    assert sorted(res['drained_nodes']) == NODES and res['changed_nodes'] == NODES
    assert res['blocked'] == [] and res['drain_failed'] == []
    assert res['msg'] == 'cordoned %s; drained %s' % (', '.join(NODES), ', '.join(res['drained_nodes']))
    assert took < DRAIN_TIMEOUT, 'nothing refused: the drain did not wait for its timeout (%.1f s)' % took
    # evicted for real: both original pods gone; the Deployment's replacements Pending, as in a power-off
    pods = cluster.pods(ns)
    assert uid.isdisjoint(p['metadata']['uid'] for p in pods), [p['metadata']['name'] for p in pods]
    assert len(pods) == 2 and all(p['status']['phase'] == 'Pending' and not p['spec'].get('nodeName') for p in pods)

    # rerun (a resumed power_off): nothing left to evict, nothing changed, both nodes already cordoned
    rc, res2, _wall, _took = cluster.play('drained', NODES)
    assert rc == 0 and not res2['changed'] and res2['already_unschedulable'] == NODES, res2
    assert res2['changed_nodes'] == [] and res2['drained_nodes'] == []

    # power_on uncordons what the first run cordoned; the pods come back, one per node
    rc, res3, _wall, _took = cluster.play('uncordoned', res['changed_nodes'])
    assert rc == 0 and res3['changed_nodes'] == NODES, res3
    one_running_per_node(cluster, ns)


@pytest.mark.tier
def test_stale_the_budgets_status_lags_with_the_controller_manager_down_and_the_drain_names_it(cluster, workload):
    """A budget changed while kube-controller-manager is down (a master not back, a crash loop): its status lags
    its spec, and the eviction API refuses every pod it covers (HTTP 429, Retry-After 10 s, which client-go retries
    by itself until kubectl's --request-timeout: kubectl drain says only "context deadline exceeded")."""
    ns, on = workload
    cluster.apply(budget(ns, minAvailable=0))
    pdb_observed(cluster, ns, disruptionsAllowed=2)
    cluster.signal('kube-controller-manager', signal.SIGSTOP)
    try:
        cluster.k('patch', 'pdb', 'web', '-n', ns, '--type', 'merge', '-p', json.dumps(dict(spec=dict(minAvailable=1))))
        stale = cluster.pdb(ns)
        assert stale['metadata']['generation'] == 2 and stale['status']['observedGeneration'] == 1, stale
        capture_get(cluster, 'pdb_status_lags', 'poddisruptionbudgets', '--all-namespaces')
        capture_get(cluster, 'pods_one_per_node_lag', 'pods', '--all-namespaces')
        rc, res, wall, took = cluster.play('drained', NODES)
    finally:
        cluster.signal('kube-controller-manager', signal.SIGCONT)
    if capturing():
        capture(cluster, 'drain_pdb_status_lags', res['cmd'], res['rc'], res['stdout'], res['stderr'])
    assert rc == 2 and res['changed_nodes'] == NODES and res['drained_nodes'] == [], res
    assert sorted(res['drain_failed']) == NODES
    # kubectl's --timeout is not what ends it: each eviction call is held until --request-timeout (10 s)
    assert took < DRAIN_TIMEOUT + TASK_MARGIN, took
    assert 'context deadline exceeded' in res['stderr']
    assert sorted((b['node'], b['pod'], b['pdb']) for b in res['blocked']) == sorted(
        (node, pod['metadata']['name'], 'web') for node, pod in on.items())
    for node, pod in sorted(on.items()):
        assert ('pod %s/%s on %s cannot be evicted: PodDisruptionBudget %s/web (minAvailable 1; currentHealthy 2, '
                'desiredHealthy 0, disruptionsAllowed 2, expectedPods 2, a status computed for generation 1) changed '
                'since the disruption controller last computed its status (generation 2), and the eviction API '
                'refuses every pod it covers until then (kubectl gave up waiting: context deadline exceeded). Check '
                'that kube-controller-manager is running' % (ns, pod['metadata']['name'], node, ns)) in res['msg']
    assert all(running(p) for p in cluster.pods(ns)) and len(cluster.pods(ns)) == 2

    # the controller-manager back: the budget is processed, and the nodes the run cordoned are uncordoned
    pdb_observed(cluster, ns, desiredHealthy=1, disruptionsAllowed=1)
    rc, res, _wall, _took = cluster.play('uncordoned', res['changed_nodes'])
    assert rc == 0 and res['changed_nodes'] == NODES, res
