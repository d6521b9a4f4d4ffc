# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes modules on recorded kubectl output: decisions, exact argv, secrets, check mode, idempotence."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from ansible_collections.blackstart.cluster.plugins.module_utils import _cli, _k8s, _k8s_gates, _wait
from ansible_collections.blackstart.cluster.plugins.modules import (
    k8s_apiserver_wait, k8s_cordon, k8s_nodes_wait, k8s_storage_wait)

from tests.unit.k8s_fakes import (
    FakeKubectl, as_json, capture, lab_json, ok, public_text, run_module, upstream_capture)

TIMEOUT = shutil.which('timeout')
SECRET = 'c2VjcmV0LXRva2VuLW5ldmVyLXByaW50ZWQ='
T = _k8s.parse_k8s_time
URLS = ['https://10.0.0.11:6443', 'https://10.0.0.12:6443']
LEASES = ('get', 'leases', '-n', 'kube-node-lease')
NO_LEASES = as_json(dict(apiVersion='v1', kind='List', items=[]))


@pytest.fixture
def kubeconfig(tmp_path):
    p = tmp_path / 'admin.conf'
    p.write_text('apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: %s\n' % SECRET)
    return str(p)


@pytest.fixture
def run(monkeypatch, capsys, kubeconfig):
    def _run(main, args, fake, check_mode=False):
        args = dict(args)
        args.setdefault('kubeconfig', kubeconfig)
        args.setdefault('kubectl', '/bin/true')
        return run_module(main, args, fake, monkeypatch, capsys, check_mode=check_mode)
    return _run


@pytest.fixture
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(_wait.time, 'sleep', slept.append)
    return slept


@pytest.fixture
def at(monkeypatch):
    def _at(when):
        monkeypatch.setattr(k8s_nodes_wait.time, 'time', lambda: T(when))
    return _at


def no_secret(fake, result):
    text = json.dumps(fake.calls) + json.dumps(result)
    assert SECRET not in text and 'token:' not in text


def readyz(body):
    return ok(body)


def server_error(name):
    return capture(name)


# ----------------------------------------------------------------------------------------------- apiserver

def test_apiserver_all_endpoints_ready_exact_argv(run, kubeconfig):
    fake = FakeKubectl({('get', '--raw', '/readyz?verbose'): readyz(public_text('readyz_verbose_k8s_docs.txt'))})
    code, result = run(k8s_apiserver_wait.main, dict(endpoints=URLS, cli_timeout=7), fake)
    assert code == 0 and result['ready'] and result['state']['ready'] == URLS
    prefix = [TIMEOUT, '-k', '5', '26'] if TIMEOUT else []
    assert fake.calls == [prefix + ['/bin/true', '--kubeconfig', kubeconfig, '--server', u, '--request-timeout', '7s',
                                    'get', '--raw', '/readyz?verbose'] for u in URLS]
    no_secret(fake, result)


def test_apiserver_etcd_failing_is_named_per_endpoint(run, no_sleep):
    fake = FakeKubectl({
        (URLS[0], ('get', '--raw', '/readyz?verbose')): readyz(capture('readyz_ok')[1]),
        (URLS[1], ('get', '--raw', '/readyz?verbose')): server_error('readyz_no_quorum'),
        (URLS[1], ('get', '--raw', '/livez?verbose')): server_error('livez_no_quorum'),
    })
    code, result = run(k8s_apiserver_wait.main, dict(endpoints=URLS, timeout=1), fake)
    assert code == 1 and result['transient_count'] == 0
    assert result['missing'] == [
        'apiserver https://10.0.0.12:6443 not ready: [-]etcd failed: reason withheld, [-]etcd-readiness failed: '
        'reason withheld (etcd has no quorum or is unreachable from this apiserver: run blackstart.cluster.etcd_wait); '
        'livez also failing: etcd']
    ep = result['state']['endpoints'][1]
    assert ep['failed_checks'] == ['etcd', 'etcd-readiness'] and ep['live'] is False and ep['error'] is None
    assert result['state']['endpoints'][0]['ready'] is True
    assert 'apiserver https://10.0.0.12:6443 not ready: [-]etcd failed' in result['msg']


def test_apiserver_alive_not_ready(run, no_sleep):
    fake = FakeKubectl({
        ('get', '--raw', '/readyz?verbose'): (1, '', 'Error from server (InternalError): an error on the server '
                                                     '("[+]ping ok\\n[-]informer-sync failed: reason withheld\\n'
                                                     'readyz check failed") has prevented the request from succeeding'),
        ('get', '--raw', '/livez?verbose'): readyz(public_text('livez_verbose_pet2cattle.txt')),
    })
    code, result = run(k8s_apiserver_wait.main, dict(endpoints=URLS[:1], timeout=0), fake)
    assert code == 1
    assert result['missing'] == ['apiserver https://10.0.0.11:6443 not ready: [-]informer-sync failed: reason '
                                 'withheld; livez passes (alive, not ready yet)']


def test_apiserver_down_names_connection_error_and_waits(run, no_sleep):
    fake = FakeKubectl({('get', '--raw', '/readyz?verbose'): [capture('readyz_apiserver_down'),
                                                              capture('readyz_apiserver_down'),
                                                              readyz(capture('readyz_ok')[1])]})
    code, result = run(k8s_apiserver_wait.main, dict(endpoints=URLS[:1], timeout=60), fake)
    assert code == 0 and result['ready'] and result['attempts'] == 3 and no_sleep == [0.25, 0.375]
    fake = FakeKubectl({('get', '--raw', '/readyz?verbose'): capture('readyz_apiserver_down')})
    code, result = run(k8s_apiserver_wait.main, dict(endpoints=URLS[:1], timeout=0), fake)
    assert code == 1 and result['missing'] == [
        'apiserver https://10.0.0.11:6443 not answering: The connection to the server 127.0.0.1:APIPORT was refused '
        '- did you specify the right host or port?']
    assert len(fake.calls) == 1  # no livez asked of an endpoint that does not answer


def test_apiserver_default_endpoint_is_the_kubeconfigs_server(run, kubeconfig):
    fake = FakeKubectl({
        ('config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'): ok('https://lb.example:6443'),
        ('get', '--raw', '/readyz?verbose'): readyz('ok'),
    })
    code, result = run(k8s_apiserver_wait.main, {}, fake)
    assert code == 0 and result['state']['ready'] == ['https://lb.example:6443']
    assert '--server' not in fake.calls[1]
    no_secret(fake, result)


def test_apiserver_wrong_ca_fails_at_once(run, no_sleep):
    err = ('Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown '
           'authority')
    fake = FakeKubectl({('get', '--raw', '/readyz?verbose'): (1, '', err)})
    code, result = run(k8s_apiserver_wait.main, dict(endpoints=URLS[:1], timeout=60), fake)
    assert code == 1 and no_sleep == [] and 'x509: certificate signed by unknown authority' in result['msg']
    assert 'TLS verification failed' in result['msg'] and result['rc'] == 1


def test_apiserver_validate_certs_false_and_bad_url(run):
    fake = FakeKubectl({('get', '--raw', '/readyz?verbose'): readyz('ok')})
    code, result = run(k8s_apiserver_wait.main, dict(endpoints=URLS[:1], validate_certs=False), fake)
    assert code == 0 and '--insecure-skip-tls-verify=true' in fake.calls[0]
    fake = FakeKubectl({})
    code, result = run(k8s_apiserver_wait.main, dict(endpoints=['10.0.0.11:6443']), fake)
    assert code == 1 and 'endpoints must be https URLs' in result['msg'] and fake.calls == []


def test_apiserver_forbidden_is_state_not_failure(run, no_sleep):
    err = 'Error from server (Forbidden): forbidden: User "system:anonymous" cannot get path "/readyz"'
    fake = FakeKubectl({('get', '--raw', '/readyz?verbose'): (1, '', err)})
    code, result = run(k8s_apiserver_wait.main, dict(endpoints=URLS[:1], timeout=0), fake)
    assert code == 1 and 'not answering: Error from server (Forbidden)' in result['missing'][0]


def test_apiserver_broken_kubeconfig_fails(run):
    fake = FakeKubectl({('config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'):
                        (1, '', 'error: error loading config file "/x": yaml: line 2: mapping values are not allowed')})
    code, result = run(k8s_apiserver_wait.main, {}, fake)
    assert code == 1 and 'error loading config file' in result['msg'] and 'kubeconfig could not be used' in result['msg']


# ----------------------------------------------------------------------------------------------- health bodies

def test_health_bodies_from_real_clusters():
    docs = _k8s.parse_health_body(public_text('readyz_verbose_k8s_docs.txt'))
    assert docs['failed'] == [] and docs['checks']['etcd'] == 'ok' and len(docs['checks']) == 18
    excluded = _k8s.parse_health_body(public_text('readyz_verbose_exclude_etcd_k8s_docs.txt'))
    assert excluded['failed'] == [] and excluded['checks']['etcd'] == 'excluded: ok'
    k3s = _k8s.parse_health_body(public_text('readyz_k3s_kine_failing.txt'))
    assert k3s['failed'] == ['etcd', 'etcd-readiness']
    err = _k8s.parse_health_error(public_text('healthz_500_clientgo_error.txt'))
    assert err['failed'] == ['etcd'] and err['kind'] == 'InternalError' and len(err['checks']) == 30
    lab = _k8s.parse_health_error(capture('readyz_no_quorum')[2])
    assert lab['failed'] == ['etcd', 'etcd-readiness'] and lab['kind'] == 'InternalError'
    assert _k8s.parse_health_body('ok')['failed'] == []
    assert _k8s.parse_health_body('<html>proxy error</html>')['failed'] == ['unexpected answer: <html>proxy error</html>']
    assert _k8s.parse_health_error('Error from server (NotFound): the server could not find the requested resource') is None
    assert _k8s.failed_check_lines(k3s) == ['[-]etcd failed: reason withheld', '[-]etcd-readiness failed: reason withheld']


# ----------------------------------------------------------------------------------------------- nodes

def test_nodes_ready(run, at):
    at('2026-11-25T14:24:08Z')
    fake = FakeKubectl({('get', 'nodes'): capture('nodes_ready'), LEASES: NO_LEASES})
    code, result = run(k8s_nodes_wait.main, {}, fake)
    assert code == 0 and result['state']['ready'] == ['w1', 'w2']
    assert fake.calls[0][-4:] == ['get', 'nodes', '-o', 'json']
    no_secret(fake, result)


def test_nodes_not_ready_named_with_reason_and_heartbeat_age(run, at, no_sleep):
    at('2026-11-25T14:24:40Z')
    fake = FakeKubectl({('get', 'nodes'): capture('nodes_not_ready'), LEASES: NO_LEASES})
    code, result = run(k8s_nodes_wait.main, dict(timeout=1), fake)
    assert code == 1
    assert result['missing'] == [
        'node w1 NotReady (Ready=Unknown): NodeStatusUnknown: Kubelet stopped posting node status.; last heartbeat '
        '18s ago; other conditions: DiskPressure=Unknown (NodeStatusUnknown), MemoryPressure=Unknown '
        '(NodeStatusUnknown), PIDPressure=Unknown (NodeStatusUnknown) (the kubelet stopped posting status: check '
        'kubelet and containerd on w1)',
        'node w2 NotReady: KubeletNotReady: container runtime is down: container runtime is down: '
        '/TMP/w2/containerd.sock: [Errno 2] No such file or directory; last heartbeat 2s ago']
    rows = dict((r['name'], r) for r in result['state']['nodes'])
    assert rows['w1']['heartbeat_age'] == 18 and rows['w1']['ready'] == 'Unknown'


def test_nodes_missing_expected_node_waits(run, at, no_sleep):
    at('2026-11-25T14:24:08Z')
    fake = FakeKubectl({('get', 'nodes'): capture('nodes_ready'), LEASES: NO_LEASES})
    code, result = run(k8s_nodes_wait.main, dict(nodes=['w1', 'worker-02'], timeout=1), fake)
    assert code == 1 and len(fake.calls) > 1
    assert result['missing'] == ['node worker-02 not registered (nodes: w1, w2): the kubelet on worker-02 has not '
                                 'registered, or the name is wrong']


def test_nodes_stale_heartbeat_is_not_trusted(run, at, no_sleep):
    at('2026-11-25T14:30:00Z')
    fake = FakeKubectl({('get', 'nodes'): capture('nodes_ready'), LEASES: NO_LEASES})
    code, result = run(k8s_nodes_wait.main, dict(min_heartbeat_after=T('2026-11-25T14:25:00Z'), timeout=0), fake)
    assert code == 1 and result['state']['not_ready'] == ['w1', 'w2']
    assert 'node w1 NotReady (Ready=Stale): HeartbeatBeforePowerOn' in result['missing'][0]
    code, result = run(k8s_nodes_wait.main, dict(min_heartbeat_after=T('2026-11-25T14:24:00Z')), fake)
    assert code == 0


def test_nodes_cordoned_counts_as_ready_and_is_listed(run, at):
    at('2026-11-25T14:24:20Z')
    code, result = run(k8s_nodes_wait.main, {}, FakeKubectl({('get', 'nodes'): capture('nodes_w1_cordoned'), LEASES: NO_LEASES}))
    assert code == 0 and result['state']['unschedulable'] == ['w1']


def test_nodes_lease_is_the_heartbeat(run, at, no_sleep):
    # Kubelets posting an unchanged status every 5 min (like real ones) and renewing their Lease; w1's kubelet off
    # for 8 s: both still Ready=True (within the grace period), only the Lease tells.
    at('2026-11-25T15:11:42Z')
    fake = FakeKubectl({('get', 'nodes'): capture('nodes_w1_kubelet_off_within_grace'),
                        LEASES: capture('node_leases_w1_kubelet_off')})
    code, result = run(k8s_nodes_wait.main, dict(timeout=0), fake)
    assert code == 0, 'the stale-Ready trap: without min_heartbeat_after the gate cannot tell'
    rows = dict((r['name'], r) for r in result['state']['nodes'])
    assert rows['w1']['lease_age'] == 9 and rows['w2']['lease_age'] == 0 and rows['w1']['heartbeat_age'] == 9
    code, result = run(k8s_nodes_wait.main, dict(timeout=0, min_heartbeat_after=T('2026-11-25T15:11:35Z')), fake)
    assert code == 1 and result['state']['not_ready'] == ['w1']
    assert result['missing'][0].startswith('node w1 NotReady (Ready=Stale): HeartbeatBeforePowerOn') and \
        'last heartbeat 9s ago (Lease)' in result['missing'][0], result['missing']
    # With the status heartbeat alone, w2 (status posted 20 s ago, Lease 0.3 s ago) would be stale too.
    fake = FakeKubectl({('get', 'nodes'): capture('nodes_w1_kubelet_off_within_grace'), LEASES: NO_LEASES})
    code, result = run(k8s_nodes_wait.main, dict(timeout=0, min_heartbeat_after=T('2026-11-25T15:11:35Z')), fake)
    assert result['state']['not_ready'] == ['w1', 'w2']


def test_nodes_leases_refused_fall_back_to_status_and_are_not_asked_again(run, at, no_sleep):
    at('2026-11-25T15:11:42Z')
    fake = FakeKubectl({('get', 'nodes'): capture('nodes_status_report_5min'),
                        LEASES: (1, '', 'Error from server (Forbidden): leases.coordination.k8s.io is forbidden: User '
                                        '"blackstart" cannot list resource "leases" in API group "coordination.k8s.io" '
                                        'in the namespace "kube-node-lease"')})
    code, result = run(k8s_nodes_wait.main, dict(nodes=['w1', 'w9'], timeout=1), fake)
    assert code == 1 and result['attempts'] > 1
    assert sum(1 for c in fake.calls if 'leases' in c) == 1
    assert [r.get('lease_age') for r in result['state']['nodes']] == [None, None]
    fake = FakeKubectl({('get', 'nodes'): capture('nodes_status_report_5min'), LEASES: capture('node_leases')})
    code, result = run(k8s_nodes_wait.main, {}, fake)
    assert code == 0 and [r['lease_age'] for r in result['state']['nodes']] == [9, 9]


def test_nodes_real_v1_7_node_shape(at):
    node = json.loads(public_text('node_v1.7.2_ready.json'))
    nodes = _k8s.read_nodes(dict(items=[node]))
    assert nodes[0]['ready'] == 'True' and nodes[0]['conditions']['OutOfDisk']['status'] == 'False'
    obs = _k8s_gates.nodes_observation(nodes, ['pdc3-sm16'], now=T('2017-08-27T08:57:40Z'))
    assert obs.ready and obs.state['nodes'][0]['heartbeat_age'] == 28


def test_nodes_apiserver_down_is_transient_despite_json_on_stdout(run, no_sleep):
    fake = FakeKubectl({('get', 'nodes'): capture('nodes_apiserver_down')})
    code, result = run(k8s_nodes_wait.main, dict(timeout=0), fake)
    assert code == 1 and result['transient_count'] == 1 and result['state'] == {}
    assert 'was refused' in result['transient_errors'][0] and 'Nothing answers at that address' in result['transient_errors'][0]


def test_nodes_check_mode_evaluates_once(run, at, no_sleep):
    at('2026-11-25T14:24:40Z')
    code, result = run(k8s_nodes_wait.main, dict(timeout=60), FakeKubectl({('get', 'nodes'): capture('nodes_not_ready'), LEASES: NO_LEASES}),
                       check_mode=True)
    assert code == 0 and not result['ready'] and result['attempts'] == 1 and no_sleep == []
    # the baseline a power-off records: which nodes were not Ready
    assert result['state']['not_ready'] == ['w1', 'w2'] and result['state']['ready'] == []


@pytest.mark.parametrize('args,fragment', [
    (dict(kubeconfig='/nonexistent/admin.conf'), 'kubeconfig file /nonexistent/admin.conf does not exist'),
    (dict(kubectl='kubectl-not-installed-here'), "kubectl 'kubectl-not-installed-here' not found"),
    (dict(cli_timeout=0), 'cli_timeout must be at least 1 second'),
])
def test_bad_client_input_fails_before_running_anything(run, args, fragment):
    for main, extra in ((k8s_nodes_wait.main, {}), (k8s_cordon.main, dict(nodes=['w1'])),
                        (k8s_storage_wait.main, {}), (k8s_apiserver_wait.main, {})):
        fake = FakeKubectl({})
        code, result = run(main, dict(args, **extra), fake)
        assert code == 1 and fragment in result['msg'], result
        assert fake.calls == []


def test_unreadable_kubeconfig(run, kubeconfig, monkeypatch):
    real = _cli.os.access
    monkeypatch.setattr(_cli.os, 'access', lambda p, m: False if p == kubeconfig else real(p, m))
    code, result = run(k8s_nodes_wait.main, {}, FakeKubectl({}))
    assert code == 1 and 'is not readable by this user' in result['msg']


def test_unauthorized_fails_at_once(run, no_sleep):
    fake = FakeKubectl({('get', 'nodes'): (1, '', 'error: You must be logged in to the server (Unauthorized)')})
    code, result = run(k8s_nodes_wait.main, dict(timeout=60), fake)
    assert code == 1 and no_sleep == [] and 'rejected the credentials' in result['msg']


def test_not_json_and_killed(run, no_sleep):
    code, result = run(k8s_nodes_wait.main, {}, FakeKubectl({('get', 'nodes'): ok('NAME STATUS\n')}))
    assert code == 1 and 'printed output that is not JSON' in result['msg']
    code, result = run(k8s_nodes_wait.main, dict(timeout=0), FakeKubectl({('get', 'nodes'): (124, '', '')}))
    assert code == 1 and 'was killed after 35s' in result['transient_errors'][0]


# ----------------------------------------------------------------------------------------------- storage

@pytest.fixture
def storage_at(monkeypatch):
    def _at(when):
        monkeypatch.setattr(k8s_storage_wait.time, 'time', lambda: T(when))
    return _at


def storage_fake(pods, pvcs, events, delete=None):
    responses = {
        ('get', 'persistentvolumeclaims', '--all-namespaces'): capture(pvcs),
        ('get', 'pods', '--all-namespaces'): capture(pods) if isinstance(pods, str) else pods,
        ('get', 'events', '--all-namespaces', '--field-selector', 'type=Warning'): capture(events),
    }
    if delete is not None:
        responses[('delete', 'pod')] = delete
    return FakeKubectl(responses)


def test_storage_pending_pvc_and_unscheduled_pod(run, storage_at, no_sleep):
    storage_at('2026-11-25T14:26:00Z')
    code, result = run(k8s_storage_wait.main, dict(timeout=0, grace=60),
                       storage_fake('pods_pending', 'pvc_pending', 'events_pending'))
    assert code == 1
    assert result['missing'] == [
        'PVC ci/jenkins-home Pending (storage class nothing-provisions-this) for 111s: no provisioner event (is the '
        'CSI provisioner running, and the storage cluster up?)',
        'pod ci/jenkins-0 stuck Pending (not scheduled: 0/2 nodes are available: pod has unbound immediate '
        'PersistentVolumeClaims.) 110s']
    assert result['state']['pvcs_bound'] == 0 and result['deleted_pods'] == [] and not result['changed']


def test_storage_failed_mount_named_with_the_mount_error(run, storage_at, no_sleep):
    storage_at('2026-11-25T14:41:19Z')
    code, result = run(k8s_storage_wait.main, dict(timeout=0, grace=60, storage_classes=['cephfs']),
                       storage_fake('pods_failed_mount', 'pvc_bound', 'events_failed_mount'))
    assert code == 1 and result['state']['pvcs_bound'] == 1
    (msg,) = result['missing']
    assert msg.startswith('pod ci/jenkins-w899kgg4kw-sfx5f on w1 stuck ContainerCreating 95s: FailedMount: '
                          'MountVolume.MountDevice failed for volume "pvc-e293ec75-712e-4027-979d-fb241a28a0a2" : '
                          'rpc error: code = Internal desc = an error (exit status 1) occurred while running ceph-fuse')
    # The newest of the two FailedMount events (ceph-fuse printed its lines in another order, so they did not merge).
    assert msg.endswith('ceph-fuse: probably no MDS server is up? ceph-fuse: ceph mount failed with (65536) Unknown '
                        'error 65536'), msg
    # Young pods with a mount-failure event are not ready either (only "still", not "stuck").
    storage_at('2026-11-25T14:39:50Z')
    code, result = run(k8s_storage_wait.main, dict(timeout=0, grace=60),
                       storage_fake('pods_failed_mount', 'pvc_bound', 'events_failed_mount'))
    assert code == 1 and result['missing'][0].startswith('pod ci/jenkins-w899kgg4kw-sfx5f on w1 still ContainerCreating 6s')
    # Out of scope.
    code, result = run(k8s_storage_wait.main, dict(timeout=0, storage_classes=['rbd']),
                       storage_fake('pods_failed_mount', 'pvc_bound', 'events_failed_mount'))
    assert code == 0 and result['state']['pvcs_total'] == 0


def test_storage_delete_stuck_pods_check_mode_then_real(run, storage_at, no_sleep):
    storage_at('2026-11-25T14:41:19Z')
    fake = storage_fake('pods_failed_mount', 'pvc_bound', 'events_failed_mount', delete=ok('pod deleted\n'))
    code, result = run(k8s_storage_wait.main, dict(delete_stuck_pods=True, grace=60), fake, check_mode=True)
    assert code == 0 and result['changed'] and result['deleted_pods'] == ['ci/jenkins-w899kgg4kw-sfx5f']
    assert fake.writes == [] and 'would delete' in result['msg']
    # For real: deleted once; the next read shows the replacement (young, no event of its own) still starting,
    # the one after it running: ready then, not before.
    pods = lab_json('pods_failed_mount')
    fresh = replacement_pod(pods)
    fake = storage_fake([as_json(pods), as_json(fresh), as_json(started(fresh))], 'pvc_bound', 'events_failed_mount',
                        delete=ok('deleted\n'))
    code, result = run(k8s_storage_wait.main, dict(delete_stuck_pods=True, grace=60, timeout=30), fake)
    assert code == 0 and result['ready'] and result['changed'] and result['attempts'] == 3
    assert result['deleted_pods'] == ['ci/jenkins-w899kgg4kw-sfx5f']
    assert fake.writes == [('delete', 'pod', '-n', 'ci', 'jenkins-w899kgg4kw-sfx5f', '--wait=false')]


def replacement_pod(pods):
    """The pod its controller made after the stuck one was deleted: 1 s old, ContainerCreating, no event of its own."""
    fresh = json.loads(json.dumps(pods))
    fresh['items'][0]['metadata'].update(name='jenkins-w899kgg4kw-new', uid='fresh-uid',
                                         creationTimestamp='2026-11-25T14:41:18Z')
    for c in fresh['items'][0]['status']['conditions']:
        c['lastTransitionTime'] = '2026-11-25T14:41:18Z'
    return fresh


def started(pods):
    out = json.loads(json.dumps(pods))
    for pod in out['items']:
        pod['status']['phase'] = 'Running'
        for c in pod['status'].get('containerStatuses', []):
            c['state'] = {'running': {'startedAt': '2026-11-25T14:41:25Z'}}
    return out


def test_storage_waits_for_a_young_pod_to_start_unless_told_not_to(run, storage_at, no_sleep):
    # A pod that has not started has not shown that its volumes mount: "still", not ready; past grace, "stuck".
    storage_at('2026-11-25T14:41:19Z')
    fresh = replacement_pod(lab_json('pods_failed_mount'))
    no_events = (0, json.dumps({'apiVersion': 'v1', 'kind': 'List', 'items': []}), '')
    fake = storage_fake([as_json(fresh)], 'pvc_bound', 'events_failed_mount')
    fake.responses[('get', 'events', '--all-namespaces', '--field-selector', 'type=Warning')] = no_events
    code, result = run(k8s_storage_wait.main, dict(timeout=0, grace=60), fake)
    assert code == 1 and result['missing'] == ['pod ci/jenkins-w899kgg4kw-new on w1 still ContainerCreating 1s']
    assert result['state']['stuck_pods'][0]['past_grace'] is False
    code, result = run(k8s_storage_wait.main, dict(timeout=0, grace=60, pods_running=False), fake)
    assert code == 0 and result['ready'] and result['state']['stuck_pods'] == []
    storage_at('2026-11-25T14:43:00Z')
    code, result = run(k8s_storage_wait.main, dict(timeout=0, grace=60, pods_running=False), fake)
    assert code == 1 and result['missing'] == ['pod ci/jenkins-w899kgg4kw-new on w1 stuck ContainerCreating 102s']
    fake.responses[('get', 'pods', '--all-namespaces')] = as_json(started(fresh))
    code, result = run(k8s_storage_wait.main, dict(timeout=0, grace=60), fake)
    assert code == 0 and result['ready']


def test_storage_delete_not_while_a_claim_is_unbound_nor_a_bare_pod(run, storage_at, no_sleep):
    storage_at('2026-11-25T14:41:19Z')
    pods = lab_json('pods_failed_mount')
    pods['items'][0]['metadata'].pop('ownerReferences')
    fake = storage_fake([as_json(pods)], 'pvc_bound', 'events_failed_mount', delete=ok())
    code, result = run(k8s_storage_wait.main, dict(delete_stuck_pods=True, grace=60, timeout=0), fake)
    assert code == 1 and not result['changed'] and fake.writes == []
    assert any(m.startswith('pod ci/jenkins-w899kgg4kw-sfx5f is not deleted: no controller would recreate it (owner: '
                            'none); delete and recreate it by hand') for m in result['missing']), result['missing']
    pvcs = lab_json('pvc_bound')
    pvcs['items'][0]['status']['phase'] = 'Pending'
    fake = FakeKubectl({('get', 'persistentvolumeclaims', '--all-namespaces'): as_json(pvcs),
                        ('get', 'pods', '--all-namespaces'): capture('pods_failed_mount'),
                        ('get', 'events', '--all-namespaces', '--field-selector', 'type=Warning'):
                            capture('events_failed_mount')})
    code, result = run(k8s_storage_wait.main, dict(delete_stuck_pods=True, timeout=0), fake)
    assert code == 1 and fake.writes == [] and result['missing'][0].startswith('PVC ci/jenkins-home Pending')


def test_storage_delete_of_a_pod_already_gone_is_fine_other_errors_fail(run, storage_at, no_sleep):
    storage_at('2026-11-25T14:41:19Z')
    gone = (1, '', 'Error from server (NotFound): pods "jenkins-w899kgg4kw-sfx5f" not found')
    fake = storage_fake('pods_failed_mount', 'pvc_bound', 'events_failed_mount', delete=gone)
    code, result = run(k8s_storage_wait.main, dict(delete_stuck_pods=True, timeout=0), fake)
    assert result['deleted_pods'] == ['ci/jenkins-w899kgg4kw-sfx5f']
    denied = (1, '', 'Error from server (Forbidden): pods "x" is forbidden: User "bs" cannot delete resource "pods"')
    fake = storage_fake('pods_failed_mount', 'pvc_bound', 'events_failed_mount', delete=denied)
    code, result = run(k8s_storage_wait.main, dict(delete_stuck_pods=True, timeout=0), fake)
    assert code == 1 and 'cannot delete resource' in result['msg'] and "may not do this" in result['msg']


def test_storage_baseline_then_ignore_what_was_not_ready_before(run, storage_at, no_sleep):
    storage_at('2026-11-25T14:26:00Z')
    fake = storage_fake('pods_pending', 'pvc_pending', 'events_pending')
    code, result = run(k8s_storage_wait.main, dict(timeout=0), fake, check_mode=True)
    assert code == 0 and not result['ready']
    baseline = result['state']
    assert baseline['pvcs_not_bound'] == ['ci/jenkins-home'] and baseline['pods_not_started'] == ['ci/jenkins-0']
    code, result = run(k8s_storage_wait.main, dict(timeout=0, ignore=baseline['pvcs_not_bound'] + baseline['pods_not_started']),
                       fake)
    assert code == 0 and result['ready'] and result['missing'] == []
    assert result['state']['ignored'] == ['ci/jenkins-home', 'ci/jenkins-0']
    assert result['state']['pvcs_not_bound'] == ['ci/jenkins-home'] and result['state']['unbound_pvcs'] == []
    assert result['msg'].endswith('not waited on (not Bound / not started before): ci/jenkins-home, ci/jenkins-0')
    # the claim alone: its pod cannot start either (a replacement pod would have another name)
    code, result = run(k8s_storage_wait.main, dict(timeout=0, ignore=['ci/jenkins-home']), fake)
    assert code == 0 and result['state']['ignored'] == ['ci/jenkins-home', 'ci/jenkins-0']
    # the pod alone: the claim is still waited for
    code, result = run(k8s_storage_wait.main, dict(timeout=0, ignore=['ci/jenkins-0']), fake)
    assert code == 1 and result['missing'][0].startswith('PVC ci/jenkins-home Pending') and len(result['missing']) == 1


def test_storage_pods_on_absent_nodes_are_not_waited_for(run, storage_at, no_sleep):
    storage_at('2026-11-25T14:41:19Z')
    fake = storage_fake('pods_failed_mount', 'pvc_bound', 'events_failed_mount', delete=ok())
    code, result = run(k8s_storage_wait.main, dict(timeout=0, absent_nodes=['w1.lab.example'], delete_stuck_pods=True),
                       fake)
    assert code == 0 and result['ready'] and result['state']['on_absent_nodes'] == ['ci/jenkins-w899kgg4kw-sfx5f']
    assert result['state']['pods_not_started'] == ['ci/jenkins-w899kgg4kw-sfx5f'] and result['state']['stuck_pods'] == []
    assert 'not waited on (on an absent node): ci/jenkins-w899kgg4kw-sfx5f' in result['msg']
    assert fake.writes == [] and result['deleted_pods'] == [], 'a pod not waited on is not deleted'
    code, result = run(k8s_storage_wait.main, dict(timeout=0, absent_nodes=['w2']), fake)
    assert code == 1 and result['state']['on_absent_nodes'] == []


def test_storage_ignore_must_be_namespace_slash_name(run):
    code, result = run(k8s_storage_wait.main, dict(ignore=['ci/jenkins-0', 'jenkins-home', 'a/b/c']), FakeKubectl({}))
    assert code == 1 and result['msg'] == "ignore: 'jenkins-home', 'a/b/c' not of the form namespace/name"


def test_storage_bad_grace(run):
    code, result = run(k8s_storage_wait.main, dict(grace=-1), FakeKubectl({}))
    assert code == 1 and 'grace and timeout must be >= 0' in result['msg']


# ----------------------------------------------------------------------------------------------- cordon

def cordon_fake(nodes='nodes_ready', pods='pods_failed_mount', **writes):
    responses = {('get', 'nodes'): capture(nodes) if isinstance(nodes, str) else nodes,
                 ('get', 'pods', '--all-namespaces'): capture(pods) if isinstance(pods, str) else pods}
    for verb in ('cordon', 'uncordon', 'drain'):
        responses[(verb,)] = writes.get(verb, ok('node/x %sed\n' % verb))
    fake = FakeKubectl(responses)
    # The fake answers any `cordon …` by its first word.
    return fake


class WordsFake(FakeKubectl):
    def __call__(self, argv, check_rc=False, environ_update=None, **kwargs):
        from tests.unit.k8s_fakes import kubectl_words
        _server, words = kubectl_words(argv)
        if words and words[0] in ('cordon', 'uncordon', 'drain'):
            self.calls.append(list(argv))
            self.writes.append(words)
            resp = self.responses[(words[0],)]
            return resp(words) if callable(resp) else resp
        return FakeKubectl.__call__(self, argv, check_rc, environ_update, **kwargs)


def cordon_fake2(nodes='nodes_ready', pods='pods_failed_mount', **writes):
    f = cordon_fake(nodes, pods, **writes)
    w = WordsFake(f.responses)
    return w


def test_cordon_drain_remembers_the_operators_cordon(run, kubeconfig):
    # w1 was cordoned by an operator and runs the jenkins pod; w2 is schedulable and empty.
    fake = cordon_fake2(nodes='nodes_w1_cordoned')
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='drained', delete_emptydir_data=True,
                                             grace_period=30, drain_timeout=120, cli_timeout=5), fake)
    assert code == 0 and result['changed']
    assert result['changed_nodes'] == ['w2'] and result['already_unschedulable'] == ['w1']
    assert result['drained_nodes'] == ['w1']
    assert fake.writes == [('cordon', 'w2'),
                           ('drain', 'w1', '--timeout=120s', '--ignore-daemonsets', '--delete-emptydir-data',
                            '--grace-period=30')]
    drain_argv = fake.calls[-1]
    prefix = [TIMEOUT, '-k', '5', '145'] if TIMEOUT else []
    assert drain_argv == prefix + ['/bin/true', '--kubeconfig', kubeconfig, '--request-timeout', '5s', 'drain', 'w1',
                                   '--timeout=120s', '--ignore-daemonsets', '--delete-emptydir-data', '--grace-period=30']
    no_secret(fake, result)


def test_cordon_is_idempotent(run):
    both = lab_json('nodes_w1_cordoned')
    both['items'][1]['spec']['unschedulable'] = True
    empty = dict(items=[], kind='List', apiVersion='v1')
    fake = cordon_fake2(nodes=as_json(both), pods=as_json(empty))
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='drained'), fake)
    assert code == 0 and not result['changed'] and fake.writes == []
    assert result['changed_nodes'] == [] and result['already_unschedulable'] == ['w1', 'w2']
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2', 'w1'], state='cordoned'), fake)
    assert code == 0 and not result['changed'] and fake.writes == []


def test_cordon_check_mode_predicts(run):
    fake = cordon_fake2(nodes='nodes_ready')
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='drained'), fake, check_mode=True)
    assert code == 0 and result['changed'] and fake.writes == []
    assert result['changed_nodes'] == ['w1', 'w2'] and result['drained_nodes'] == ['w1']
    assert result['commands'][0][-3:] == ['cordon', 'w1', 'w2']
    assert result['commands'][1][-4:] == ['drain', 'w1', '--timeout=300s', '--ignore-daemonsets']
    assert result['msg'].startswith('check mode, would have')


def test_uncordon_only_what_was_changed(run):
    fake = cordon_fake2(nodes='nodes_w1_cordoned')
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='uncordoned'), fake)
    assert code == 0 and result['changed'] and result['changed_nodes'] == ['w1']
    assert result['already_schedulable'] == ['w2'] and fake.writes == [('uncordon', 'w1')]
    fake = cordon_fake2(nodes='nodes_ready')
    code, result = run(k8s_cordon.main, dict(nodes=['w1'], state='uncordoned'), fake)
    assert code == 0 and not result['changed'] and fake.writes == []


def test_emergency_cordon_only(run):
    fake = cordon_fake2(nodes='nodes_ready')
    code, result = run(k8s_cordon.main, dict(nodes=['w1'], state='drained', drain=False), fake)
    assert code == 0 and result['changed_nodes'] == ['w1'] and result['drained_nodes'] == []
    assert fake.writes == [('cordon', 'w1')] and 'drain=false' in json.dumps(result.get('warnings'))
    assert not any(c[-2:] == ['--all-namespaces', '-o'] for c in fake.calls)


def test_unknown_node_changes_nothing(run):
    fake = cordon_fake2(nodes='nodes_ready')
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'worker-09'], state='cordoned'), fake)
    assert code == 1 and fake.writes == []
    assert 'node worker-09 not found in the cluster (nodes: w1, w2)' in result['msg']


def test_failed_drain_reports_what_was_already_changed(run):
    err = ('error: unable to drain node "w1" due to error: [error when evicting pods/"jenkins-0" -n "ci": global '
           'timeout reached: 2m0s], continuing command...\nThere are pending nodes to be drained:\n w1\n')
    fake = cordon_fake2(nodes='nodes_ready', drain=(1, '', err))
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='drained'), fake)
    assert code == 1 and result['changed'] and result['changed_nodes'] == ['w1', 'w2']
    assert result['drained_nodes'] == [] and 'global timeout reached' in result['stderr']


def pods_on(*nodes):
    """The lab's jenkins pod (app=jenkins, owned by a ReplicaSet), one copy running on each node."""
    base = lab_json('pods_failed_mount')
    items = []
    for node in nodes:
        pod = json.loads(json.dumps(base['items'][0]))
        pod['metadata']['name'] = 'jenkins-%s' % node
        pod['metadata']['uid'] = 'uid-%s' % node
        pod['spec']['nodeName'] = node
        pod['status']['phase'] = 'Running'
        items.append(pod)
    return as_json(dict(base, items=items))


def test_drain_runs_the_nodes_together_not_one_after_another(run):
    # Each drain waits until the other one has started too: run one after the other they would never meet.
    meet = threading.Barrier(2, timeout=5)
    hold = 0.3

    def drain(words):
        meet.wait()
        time.sleep(hold)
        return ok('node/%s drained\n' % words[1])
    fake = cordon_fake2(nodes='nodes_ready', pods=pods_on('w1', 'w2'), drain=drain)
    start = time.monotonic()
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='drained', drain_timeout=60), fake)
    took = time.monotonic() - start
    assert code == 0, result['msg']
    assert result['drained_nodes'] == ['w1', 'w2'] and result['changed_nodes'] == ['w1', 'w2']
    assert sorted(w for w in fake.writes if w[0] == 'drain') == [
        ('drain', 'w1', '--timeout=60s', '--ignore-daemonsets'), ('drain', 'w2', '--timeout=60s', '--ignore-daemonsets')]
    assert took < 2 * hold, took  # bounded by the slowest node, not the sum


PDB_REFUSED = ('error when evicting pods/"jenkins-w1" -n "ci" (will retry after 5s): Cannot evict pod as it would '
               'violate the pod\'s disruption budget.\n') * 3 + (
    'error: unable to drain node "w1" due to error: [error when evicting pods/"jenkins-w1" -n "ci": global timeout '
    'reached: 1m0s], continuing command...\nThere are pending nodes to be drained:\n w1\n')


def pdb_list(selector=None, **status):
    item = dict(apiVersion='policy/v1', kind='PodDisruptionBudget',
                metadata=dict(name='jenkins', namespace='ci'),
                spec=dict(minAvailable=1, selector=selector if selector is not None else dict(matchLabels=dict(app='jenkins'))),
                status=dict(dict(currentHealthy=1, desiredHealthy=1, disruptionsAllowed=0, expectedPods=1), **status))
    other = json.loads(json.dumps(item))
    other['metadata']['namespace'] = 'shop'  # same selector, another namespace: not this pod's budget
    return as_json(dict(apiVersion='v1', kind='List', items=[other, item]))


def test_drain_blocked_by_a_pdb_names_pod_namespace_budget_and_what_to_do(run):
    def drain(words):
        if words[1] == 'w1':
            return 1, 'node/w1 cordoned\nevicting pod ci/jenkins-w1\n', PDB_REFUSED
        return ok('node/w2 drained\n')
    fake = cordon_fake2(nodes='nodes_ready', pods=pods_on('w1', 'w2'), drain=drain)
    fake.responses[('get', 'poddisruptionbudgets', '--all-namespaces')] = pdb_list()
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='drained', drain_timeout=60), fake)
    assert code == 1 and result['changed']
    assert result['blocked'] == [dict(node='w1', pod='jenkins-w1', namespace='ci', pdb='jenkins')]
    assert result['changed_nodes'] == ['w1', 'w2'] and result['already_unschedulable'] == []
    assert result['drained_nodes'] == ['w2'] and result['drain_failed'] == ['w1']
    assert result['msg'] == (
        'drain failed on w1 (each `kubectl drain --timeout=60s`, run together; the nodes stay cordoned): w1: pod '
        'ci/jenkins-w1 on w1 cannot be evicted: PodDisruptionBudget ci/jenkins (minAvailable 1; currentHealthy 1, '
        'desiredHealthy 1, disruptionsAllowed 0, expectedPods 1) allows no disruption now. Scale its workload up so '
        'that the budget allows one pod down, relax the PDB (kubectl -n ci edit pdb jenkins), or power off with '
        'blackstart_emergency=true (cordons without draining; the pods stop with their hosts)')
    assert 'global timeout reached' in result['stderr']


def test_drain_blocked_when_the_budgets_cannot_be_read_or_matched(run):
    def fake_with(pdbs):
        fake = cordon_fake2(nodes='nodes_ready', pods=pods_on('w1'), drain=(1, '', PDB_REFUSED))
        fake.responses[('get', 'poddisruptionbudgets', '--all-namespaces')] = pdbs
        return fake
    denied = (1, '', 'Error from server (Forbidden): poddisruptionbudgets.policy is forbidden: User "bs" cannot list')
    code, result = run(k8s_cordon.main, dict(nodes=['w1'], state='drained'), fake_with(denied))
    assert code == 1 and result['blocked'] == [dict(node='w1', pod='jenkins-w1', namespace='ci', pdb=None)]
    assert 'a PodDisruptionBudget refuses it (the budgets could not be read: `' in result['msg']
    assert 'blackstart_emergency=true' in result['msg'] and result['changed_nodes'] == ['w1']
    code, result = run(k8s_cordon.main, dict(nodes=['w1'], state='drained'),
                       fake_with(pdb_list(selector=dict(matchLabels=dict(app='web')))))
    assert result['blocked'][0]['pdb'] is None and 'no PodDisruptionBudget of ci matches its labels now' in result['msg']


def test_drain_failure_without_a_budget_keeps_kubectls_words(run):
    err = ('error: unable to drain node "w1" due to error: [error when evicting pods/"jenkins-w1" -n "ci": global '
           'timeout reached: 2m0s], continuing command...\nThere are pending nodes to be drained:\n w1\n')
    fake = cordon_fake2(nodes='nodes_ready', pods=pods_on('w1'), drain=(1, '', err))
    code, result = run(k8s_cordon.main, dict(nodes=['w1'], state='drained'), fake)
    assert code == 1 and result['blocked'] == [] and result['changed_nodes'] == ['w1']
    assert 'w1: pod ci/jenkins-w1 on w1 was not evicted: global timeout reached: 2m0s' in result['msg']
    assert not any('poddisruptionbudgets' in c for c in fake.calls), 'the budgets are read only when one refused'
    # no eviction line at all: kubectl's own error
    fake = cordon_fake2(nodes='nodes_ready', pods=pods_on('w1'),
                        drain=(1, '', 'error: cannot delete Pods with local storage (use --delete-emptydir-data to '
                                      'override): ci/jenkins-w1'))
    code, result = run(k8s_cordon.main, dict(nodes=['w1'], state='drained'), fake)
    assert code == 1 and 'w1: `' in result['msg'] and 'use --delete-emptydir-data' in result['msg']


# ----- the same, on what real Kubernetes 1.37.2 said (fixtures/k8s/upstream, tests/faults/test_drain_pdb.py): a
# Deployment of 2 on 2 KWOK nodes, PDB minAvailable 1, both nodes drained together; one pod went, the other was refused

def upstream_json(name):
    return json.loads(upstream_capture(name)[1])


def real_blocked_run():
    """The module's result from the real run (through ansible-playbook)."""
    return json.loads(upstream_capture('k8s_cordon_blocked_result')[1])


def test_drain_blocked_by_a_pdb_on_real_kubernetes_says_what_the_real_run_said(run):
    real = real_blocked_run()
    stuck = real['drain_failed'][0]

    def drain(words):
        if words[1] == stuck:
            return upstream_capture('drain_blocked_by_pdb')
        return ok('node/%s already cordoned\nevicting pod x\npod/x evicted\nnode/%s drained\n' % (words[1], words[1]))
    fake = cordon_fake2(nodes=upstream_capture('nodes_ready'), pods=upstream_capture('pods_one_per_node'), drain=drain)
    fake.responses[('get', 'poddisruptionbudgets', '--all-namespaces')] = upstream_capture('pdb_blocking')
    code, result = run(k8s_cordon.main, dict(nodes=['kwok-node-1', 'kwok-node-2'], state='drained', drain_timeout=30),
                       fake)
    assert code == 1
    for key in ('msg', 'blocked', 'changed_nodes', 'drained_nodes', 'drain_failed', 'already_unschedulable', 'stderr'):
        assert result[key] == real[key], key
    assert real['blocked'][0]['pdb'] == 'web' and 'allows no disruption now' in real['msg']


def test_kubectl_1_37_eviction_lines_and_pdb_status_from_real_kubernetes():
    rc, _out, err = upstream_capture('drain_blocked_by_pdb')
    pod = real_blocked_run()['blocked'][0]['pod']
    # one error, so no [...] around it (kubectl prints an aggregate of several in brackets), and the final line
    # repeats the error without ", continuing command...": the budget's reason is the one kept
    assert rc == 1 and 'due to error: error when evicting pods/"%s"' % pod in err
    assert _k8s.parse_eviction_errors(err) == [
        dict(pod=pod, namespace='shop-blocked', reason="Cannot evict pod as it would violate the pod's disruption budget.")]
    assert _k8s.read_pdbs(upstream_json('pdb_blocking')) == [dict(
        namespace='shop-blocked', name='web', selector=dict(matchLabels=dict(app='web')), min_available=1,
        max_unavailable=None, current_healthy=1, desired_healthy=1, disruptions_allowed=0, expected_pods=2,
        generation=1, observed_generation=1)]
    lags = _k8s.read_pdbs(upstream_json('pdb_status_lags'))[0]
    assert (lags['generation'], lags['observed_generation'], lags['disruptions_allowed']) == (2, 1, 2)
    # a budget the disruption controller never processed has no observedGeneration at all
    fresh = dict(items=[dict(metadata=dict(name='b', namespace='n', generation=1), spec=dict(minAvailable=1), status={})])
    assert _k8s.read_pdbs(fresh)[0]['observed_generation'] == 0


def test_drain_refused_while_the_budgets_status_lags_names_the_budget_and_the_controller_manager(run):
    # real Kubernetes with kube-controller-manager stopped after the budget changed: HTTP 429 with Retry-After 10 s,
    # retried by client-go until --request-timeout; kubectl drain says only "context deadline exceeded"
    _rc, _out, err = upstream_capture('drain_pdb_status_lags')
    assert 'disruption budget' not in err and _k8s.parse_eviction_errors(err)[0]['reason'] == 'context deadline exceeded'
    pods = upstream_json('pods_one_per_node_lag')
    pod = [p['metadata']['name'] for p in pods['items'] if p['spec']['nodeName'] == 'kwok-node-1'][0]

    def fake_with(pdbs):
        fake = cordon_fake2(nodes=upstream_capture('nodes_ready'), pods=upstream_capture('pods_one_per_node_lag'),
                            drain=upstream_capture('drain_pdb_status_lags'))
        fake.responses[('get', 'poddisruptionbudgets', '--all-namespaces')] = pdbs
        return fake
    code, result = run(k8s_cordon.main, dict(nodes=['kwok-node-1'], drain_timeout=30),
                       fake_with(upstream_capture('pdb_status_lags')))
    assert code == 1 and result['blocked'] == [dict(node='kwok-node-1', pod=pod, namespace='shop-stale', pdb='web')]
    assert result['msg'] == (
        'drain failed on kwok-node-1 (each `kubectl drain --timeout=30s`, run together; the nodes stay cordoned): '
        'kwok-node-1: pod shop-stale/%s on kwok-node-1 cannot be evicted: PodDisruptionBudget shop-stale/web '
        '(minAvailable 1; currentHealthy 2, desiredHealthy 0, disruptionsAllowed 2, expectedPods 2, a status computed '
        'for generation 1) changed since the disruption controller last computed its status (generation 2), and the '
        'eviction API refuses every pod it covers until then (kubectl gave up waiting: context deadline exceeded). '
        'Check that kube-controller-manager is running (kubectl -n kube-system get pods -l '
        'component=kube-controller-manager) and drain again, or power off with blackstart_emergency=true (cordons '
        'without draining; the pods stop with their hosts)' % pod)
    # the same timeout with the budget's status current is not the budget's doing: kubectl's words are kept
    current = upstream_json('pdb_status_lags')
    current['items'][0]['status']['observedGeneration'] = 2
    code, result = run(k8s_cordon.main, dict(nodes=['kwok-node-1'], drain_timeout=30), fake_with(as_json(current)))
    assert code == 1 and result['blocked'] == []
    assert 'pod shop-stale/%s on kwok-node-1 was not evicted: context deadline exceeded' % pod in result['msg']
    # a lagging budget refused by name (a --request-timeout longer than client-go's 10 retries): the same diagnosis
    refused = upstream_capture('drain_blocked_by_pdb')[2].replace('shop-blocked', 'shop-stale').replace(
        real_blocked_run()['blocked'][0]['pod'], pod)
    fake = fake_with(upstream_capture('pdb_status_lags'))
    fake.responses[('drain',)] = (1, '', refused)
    code, result = run(k8s_cordon.main, dict(nodes=['kwok-node-1'], drain_timeout=30), fake)
    assert code == 1 and result['blocked'][0]['pdb'] == 'web'
    assert 'changed since the disruption controller last computed its status (generation 2), and the eviction API ' \
           'refuses every pod it covers until then. Check that kube-controller-manager' in result['msg']


def test_a_failed_cordon_still_says_which_nodes_it_cordoned(run):
    half = lab_json('nodes_ready')
    half['items'][0]['spec']['unschedulable'] = True  # w1 was cordoned before the command failed on w2
    fake = cordon_fake2(nodes=[capture('nodes_ready'), as_json(half)],
                        cordon=(1, 'node/w1 cordoned\n',
                                'Error from server (ServiceUnavailable): the server is currently unable to handle the request'))
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='cordoned'), fake)
    assert code == 1 and result['changed'] and result['changed_nodes'] == ['w1']
    assert result['already_unschedulable'] == [] and result['drained_nodes'] == []
    # unreadable after the failure: every node it asked to cordon counts (the record must not miss one)
    down = (1, '', 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?')
    fake = cordon_fake2(nodes=[capture('nodes_ready'), down], cordon=(1, '', 'error: EOF'))
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='cordoned'), fake)
    assert code == 1 and result['changed_nodes'] == ['w1', 'w2']
    # uncordon: the ones now schedulable; unreadable, none
    both = lab_json('nodes_ready')
    for item in both['items']:
        item['spec']['unschedulable'] = True
    fake = cordon_fake2(nodes=[as_json(both), as_json(half)], uncordon=(1, '', 'error: EOF'))
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='uncordoned'), fake)
    assert code == 1 and result['changed_nodes'] == ['w2']
    fake = cordon_fake2(nodes=[as_json(both), down], uncordon=(1, '', 'error: EOF'))
    assert run(k8s_cordon.main, dict(nodes=['w1', 'w2'], state='uncordoned'), fake)[1]['changed_nodes'] == []


def test_any_failure_returns_the_changed_lists(run):
    down = (1, '', 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?')
    code, result = run(k8s_cordon.main, dict(nodes=['w1']), cordon_fake2(nodes=down))
    assert code == 1 and result['changed_nodes'] == [] and result['already_unschedulable'] == []
    assert result['blocked'] == [] and result['drained_nodes'] == []
    code, result = run(k8s_cordon.main, dict(nodes=['w1', 'worker-09']), cordon_fake2())
    assert code == 1 and result['changed_nodes'] == [] and 'worker-09' in result['msg']


def test_label_selectors():
    match = _k8s_gates.selector_matches
    labels = dict(app='web', tier='front')
    assert match({}, labels) and not match(None, labels)
    assert match(dict(matchLabels=dict(app='web')), labels) and not match(dict(matchLabels=dict(app='db')), labels)
    assert match(dict(matchExpressions=[dict(key='tier', operator='In', values=['front', 'back'])]), labels)
    assert not match(dict(matchExpressions=[dict(key='tier', operator='NotIn', values=['front'])]), labels)
    assert match(dict(matchExpressions=[dict(key='tier', operator='NotIn', values=['back'])]), labels)
    assert match(dict(matchExpressions=[dict(key='app', operator='Exists')]), labels)
    assert not match(dict(matchExpressions=[dict(key='zone', operator='Exists')]), labels)
    assert not match(dict(matchExpressions=[dict(key='app', operator='DoesNotExist')]), labels)
    assert _k8s.parse_eviction_errors(PDB_REFUSED) == [
        dict(pod='jenkins-w1', namespace='ci', reason="Cannot evict pod as it would violate the pod's disruption budget.")]


def test_cordon_empty_list_and_bad_timeout(run):
    code, result = run(k8s_cordon.main, dict(nodes=[]), FakeKubectl({}))
    assert code == 0 and not result['changed'] and 'nothing to do' in result['msg']
    code, result = run(k8s_cordon.main, dict(nodes=['w1'], drain_timeout=0), FakeKubectl({}))
    assert code == 1 and 'drain_timeout must be at least 1 second' in result['msg']


def test_drain_options_argv():
    calls = []
    cli = _k8s.KubectlCLI(lambda argv, **k: calls.append(argv) or (0, '', ''), executable='kubectl',
                          kubeconfig='/k', context='prod', request_timeout=3)
    cli.drain('w1', ignore_daemonsets=False, force=True, disable_eviction=True, drain_timeout=60)
    assert calls == [['kubectl', '--kubeconfig', '/k', '--context', 'prod', '--request-timeout', '3s', 'drain', 'w1',
                      '--timeout=60s', '--force', '--disable-eviction']]


# ----------------------------------------------------------------------------------------------- readers

def test_transient_classification_and_hints():
    assert _k8s.is_transient(1, capture('readyz_apiserver_down')[2])
    assert _k8s.is_transient(1, capture('nodes_apiserver_down')[2])
    assert _k8s.is_transient(1, 'Error from server (ServiceUnavailable): the server is currently unable to handle '
                                'the request')
    assert not _k8s.is_transient(1, 'Unable to connect to the server: x509: certificate has expired or is not yet valid')
    assert _k8s.is_transient(1, 'Unable to connect to the server: dial tcp: lookup k8s-api.lab on 10.0.0.2:53: no such host')
    assert 'clocks (NTP)' in _k8s._hint_for('x509: certificate has expired or is not yet valid', 1)
    assert 'not ready (often: etcd has no quorum)' in _k8s._hint_for('Error from server (InternalError): x', 1)
    assert _k8s._hint_for('something else', 1) is None
    assert 'did not answer in time' in _k8s._hint_for('dial tcp 10.0.0.1:6443: i/o timeout', 1)


def test_time_parsing():
    assert T('2026-11-25T14:24:22Z') == T('2026-11-25T15:24:22+01:00')
    assert T('2026-11-25T14:24:22.500000Z') - T('2026-11-25T14:24:22Z') == pytest.approx(0.5)
    assert T(None) is None
    with pytest.raises(ValueError):
        T('yesterday')


def test_event_readers_and_series():
    events = _k8s.read_events(dict(items=[
        dict(regarding=dict(kind='Pod', name='p', namespace='ns', uid='u'), reason='FailedMount', note='n1 ',
             type='Warning', series=dict(count=4, lastObservedTime='2026-11-25T14:00:00.000000Z')),
    ]))
    assert events == [dict(namespace='ns', kind='Pod', name='p', uid='u', reason='FailedMount', message='n1',
                           type='Warning', count=4, last=T('2026-11-25T14:00:00Z'))]
    pvcs = _k8s.read_pvcs(dict(items=[dict(metadata=dict(name='a', namespace='b', annotations={
        'volume.beta.kubernetes.io/storage-class': 'old'}), spec={}, status={})]))
    assert pvcs[0]['storage_class'] == 'old' and pvcs[0]['phase'] == 'Pending'


def test_stuck_pod_variants():
    now = T('2026-11-25T15:00:00Z')
    base = dict(namespace='ns', name='p', uid='u', node='w1', phase='Pending', created=now - 600, scheduled=now - 600,
                unschedulable_message=None, pvcs=['data'], owner_kind='StatefulSet', mirror=False, deleting=False)
    crash = dict(base, waiting=['CrashLoopBackOff'])
    out = _k8s_gates.stuck_pods([crash], [], {('ns', 'data')}, now, 60)
    assert out[0]['how'] == 'Pending (CrashLoopBackOff)' and out[0]['text'] == 'pod ns/p on w1 stuck Pending (CrashLoopBackOff) 10m00s'
    old_event = dict(namespace='ns', kind='Pod', name='p', uid='older', reason='FailedMount', message='x', type='Warning',
                     count=1, last=now - 700)
    out = _k8s_gates.stuck_pods([dict(base, waiting=[], created=now - 5, scheduled=now - 5)], [old_event],
                                {('ns', 'data')}, now, 60)
    assert out == [], 'an event of an earlier pod of the same name does not count'
    assert _k8s_gates._fmt_age(7300) == '2h01m' and _k8s_gates._fmt_age(None) == 'unknown'
    lost = dict(namespace='ns', name='c', uid='x', phase='Lost', storage_class='rbd', volume='pv', created=now)
    assert _k8s_gates._pvc_problem(lost, [], now) == 'PVC ns/c Lost (storage class rbd): its PersistentVolume is gone'
    ev = dict(namespace='ns', kind='PersistentVolumeClaim', name='c', uid='x', reason='ProvisioningFailed',
              message='failed to provision volume with StorageClass "cephfs": rpc error: no active MDS', count=3, last=now)
    assert _k8s_gates._pvc_problem(dict(lost, phase='Pending'), [ev], now).endswith(
        ': ProvisioningFailed: failed to provision volume with StorageClass "cephfs": rpc error: no active MDS')


def test_nodes_without_any_registered():
    obs = _k8s_gates.nodes_observation([], None, now=0)
    assert not obs.ready and obs.missing == ['no node is registered']


def test_drainable_pods_skip_daemonsets_mirrors_and_finished():
    pods = [dict(node='w1', owner_kind='DaemonSet', mirror=False, phase='Running', deleting=False),
            dict(node='w1', owner_kind=None, mirror=True, phase='Running', deleting=False),
            dict(node='w1', owner_kind='Job', mirror=False, phase='Succeeded', deleting=False),
            dict(node='w2', owner_kind='ReplicaSet', mirror=False, phase='Running', deleting=False)]
    assert _k8s_gates.drainable_pods(pods, 'w1') == []
