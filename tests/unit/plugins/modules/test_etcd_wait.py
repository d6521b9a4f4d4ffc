# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""etcd_wait on the real etcdctl 3.4.23 outputs recorded against a 3-member TLS etcd (fixtures/etcd/lab)."""

from __future__ import annotations

import json
import shutil

import pytest

from ansible_collections.blackstart.cluster.plugins.module_utils import _cli, _etcd, _etcd_gates, _wait
from ansible_collections.blackstart.cluster.plugins.modules import etcd_wait

from tests.unit.k8s_fakes import FakeEtcdctl, etcd_capture, run_module

TIMEOUT = shutil.which('timeout')
EPS = ['https://127.0.0.1:ETCD0', 'https://127.0.0.1:ETCD1', 'https://127.0.0.1:ETCD2']
KEY_CONTENT = '-----BEGIN EC PRIVATE KEY-----\nnot-on-the-command-line\n-----END EC PRIVATE KEY-----\n'


@pytest.fixture
def tls(tmp_path):
    paths = {}
    for name in ('ca.crt', 'client.crt', 'client.key'):
        p = tmp_path / name
        p.write_text(KEY_CONTENT if name.endswith('.key') else 'cert\n')
        paths[name] = str(p)
    return dict(cacert=paths['ca.crt'], cert=paths['client.crt'], key=paths['client.key'], etcdctl='/bin/true')


@pytest.fixture
def run(monkeypatch, capsys):
    def _run(args, fake, check_mode=False):
        return run_module(etcd_wait.main, args, fake, monkeypatch, capsys, check_mode=check_mode)
    return _run


@pytest.fixture
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(_wait.time, 'sleep', slept.append)
    return slept


def fake_for(health, status, members='member_list'):
    return FakeEtcdctl({
        ('member', 'list'): etcd_capture(members),
        ('endpoint', 'health'): etcd_capture(health),
        ('endpoint', 'status'): etcd_capture(status),
    })


def test_healthy_cluster_passes_with_exact_argv(run, tls):
    fake = fake_for('health_all_ok', 'status_all_ok')
    code, result = run(dict(tls, endpoints=EPS, cli_timeout=4), fake)
    assert code == 0 and result['ready'] and not result['changed']
    st = result['state']
    assert st['leader'] == 'etcd1' and st['healthy'] == 3 and st['quorum'] == 2 and st['has_quorum']
    assert [m['name'] for m in st['members']] == ['etcd1', 'etcd2', 'etcd0']
    assert [m['is_leader'] for m in st['members']] == [True, False, False]
    prefix = [TIMEOUT, '-k', '5', '21'] if TIMEOUT else []
    base = ['/bin/true', '--endpoints', ','.join(EPS), '--cacert', tls['cacert'], '--cert', tls['cert'],
            '--key', tls['key'], '--dial-timeout', '4s', '--command-timeout', '4s']
    member_order = 'https://127.0.0.1:ETCD1,https://127.0.0.1:ETCD2,https://127.0.0.1:ETCD0'
    assert fake.calls == [
        prefix + base + ['member', 'list', '-w', 'json'],
        prefix + [a if a != ','.join(EPS) else member_order for a in base] + ['endpoint', 'health', '-w', 'json'],
        prefix + [a if a != ','.join(EPS) else member_order for a in base] + ['endpoint', 'status', '-w', 'json'],
    ]
    assert 'not-on-the-command-line' not in json.dumps(fake.calls) + json.dumps(result)


def test_one_member_down_is_named_with_its_error(run, tls, no_sleep):
    code, result = run(dict(tls, endpoints=EPS, timeout=2), fake_for('health_one_down', 'status_one_down'))
    assert code == 1 and not result['ready']
    assert result['missing'] == [
        'etcd member etcd2 (https://127.0.0.1:ETCD2) unhealthy: context deadline exceeded '
        '(status: context deadline exceeded)']
    assert result['state']['unhealthy'] == ['etcd2'] and result['state']['has_quorum']
    assert result['state']['leader'] == 'etcd1'
    assert 'etcd member etcd2 (https://127.0.0.1:ETCD2) unhealthy' in result['msg']


def test_expected_members_subset_passes_with_one_down(run, tls):
    code, result = run(dict(tls, endpoints=EPS, members=['etcd0', 'etcd1']),
                       fake_for('health_one_down', 'status_one_down'))
    assert code == 0 and result['ready'] and result['state']['unhealthy'] == []


def test_unknown_member_fails_at_once(run, tls, no_sleep):
    fake = fake_for('health_all_ok', 'status_all_ok')
    code, result = run(dict(tls, endpoints=EPS, members=['master-09'], timeout=60), fake)
    assert code == 1 and 'etcd member master-09 not in the member list (members: etcd1, etcd2, etcd0)' in result['msg']
    assert no_sleep == [] and len(fake.calls) == 3


def test_no_quorum_no_leader(run, tls, no_sleep):
    fake = FakeEtcdctl({
        ('member', 'list'): etcd_capture('member_list_one_down'),  # (read before the quorum went)
        ('endpoint', 'health'): etcd_capture('health_no_quorum'),
        ('endpoint', 'status'): etcd_capture('status_no_quorum'),
    })
    code, result = run(dict(tls, endpoints=EPS, timeout=1), fake)
    assert code == 1
    assert any(m.startswith('no etcd leader elected (0 of 3 members healthy, quorum needs 2); members say: '
                            'etcdserver: no leader') for m in result['missing']), result['missing']
    assert 'etcd member etcd0 (https://127.0.0.1:ETCD0) unhealthy: rpc error: code = Unknown desc = context deadline ' \
           'exceeded (status: etcdserver: no leader)' in result['missing']
    assert not result['state']['has_quorum'] and result['state']['leader'] is None


def test_asked_endpoint_down_waits_and_says_what_to_do(run, tls, no_sleep):
    fake = FakeEtcdctl({
        ('member', 'list'): etcd_capture('member_list_asked_down'),
        ('endpoint', 'health'): (1, '[{"endpoint":"https://127.0.0.1:ETCD2","health":false,"took":"3.0s",'
                                    '"error":"context deadline exceeded"}]\n', 'Error: unhealthy cluster\n'),
    })
    code, result = run(dict(tls, endpoints=[EPS[2]], timeout=1), fake)
    assert code == 1 and result['transient_count'] >= 2 and no_sleep
    (err,) = result['transient_errors']
    assert err.startswith('could not read the etcd member list from https://127.0.0.1:ETCD2 (Error: context deadline '
                          'exceeded); endpoint health: https://127.0.0.1:ETCD2: context deadline exceeded; only one '
                          'endpoint is asked: give every member\'s client URL in endpoints'), err


def test_comes_up_while_waiting(run, tls, no_sleep):
    fake = FakeEtcdctl({
        ('member', 'list'): [etcd_capture('member_list_asked_down'), etcd_capture('member_list')],
        ('endpoint', 'health'): [etcd_capture('health_all_down'), etcd_capture('health_one_down'),
                                 etcd_capture('health_all_ok')],
        ('endpoint', 'status'): [etcd_capture('status_one_down'), etcd_capture('status_all_ok')],
    })
    code, result = run(dict(tls, endpoints=EPS, timeout=60), fake)
    assert code == 0 and result['ready'] and result['attempts'] == 3 and result['transient_count'] == 1
    assert no_sleep == [0.25, 0.375]


def test_check_mode_evaluates_once(run, tls, no_sleep):
    code, result = run(dict(tls, endpoints=EPS, timeout=60), fake_for('health_one_down', 'status_one_down'),
                       check_mode=True)
    assert code == 0 and not result['ready'] and result['attempts'] == 1 and no_sleep == []
    assert 'check mode' in json.dumps(result.get('warnings'))


@pytest.mark.parametrize('args,fragment', [
    (dict(cacert='/nonexistent/ca.crt'), 'cacert file /nonexistent/ca.crt does not exist'),
    (dict(key=None), 'cert and key go together'),
    (dict(etcdctl='etcdctl-not-here'), "etcdctl 'etcdctl-not-here' not found"),
    (dict(endpoints=['10.0.0.1:2379']), "endpoint '10.0.0.1:2379' is not a client URL"),
    (dict(endpoints=[]), 'endpoints must name at least one etcd client URL'),
    (dict(cli_timeout=0), 'cli_timeout must be at least 1 second'),
])
def test_bad_input_fails_before_running_anything(run, tls, args, fragment):
    fake = FakeEtcdctl({})
    code, result = run(dict(dict(tls, endpoints=EPS), **args), fake)
    assert code == 1 and fragment in result['msg'] and fake.calls == []


def test_unreadable_key(run, tls, monkeypatch):
    real = _cli.os.access
    monkeypatch.setattr(_cli.os, 'access', lambda p, m: False if p == tls['key'] else real(p, m))
    code, result = run(dict(tls, endpoints=EPS), FakeEtcdctl({}))
    assert code == 1 and 'key file %s is not readable' % tls['key'] in result['msg']


def test_tls_error_fails_at_once_with_hint(run, tls, no_sleep):
    err = ('{"level":"warn","msg":"retrying of unary invoker failed"}\n'
           'Error: x509: certificate signed by unknown authority\n')
    code, result = run(dict(tls, endpoints=EPS, timeout=60), FakeEtcdctl({('member', 'list'): (1, '', err)}))
    assert code == 1 and no_sleep == []
    assert 'Error: x509: certificate signed by unknown authority' in result['msg']
    assert 'TLS failed: cacert must be the etcd CA' in result['msg']
    assert result['rc'] == 1 and result['cmd'][-4:] == ['member', 'list', '-w', 'json']


def test_not_json_is_an_error(run, tls, no_sleep):
    code, result = run(dict(tls, endpoints=EPS), FakeEtcdctl({('member', 'list'): (0, 'hello\n', '')}))
    assert code == 1 and 'printed output that is not JSON' in result['msg']


def test_killed_by_timeout(run, tls, no_sleep):
    fake = FakeEtcdctl({('member', 'list'): (124, '', ''), ('endpoint', 'health'): (124, '', '')})
    code, result = run(dict(tls, endpoints=EPS, timeout=0), fake)
    assert code == 1 and result['transient_count'] == 1 and 'was killed after' in result['transient_errors'][0]


def test_readers_on_recorded_shapes():
    members = _etcd.read_member_list(json.loads(etcd_capture('member_list')[1]))
    assert members[0] == dict(id='483f4f37af43df7b', name='etcd1', client_urls=['https://127.0.0.1:ETCD1'],
                              peer_urls=['https://127.0.0.1:PEER1'], started=True, learner=False)
    rc, out, err = etcd_capture('status_one_down')
    status = _etcd.read_endpoint_status(json.loads(out), err)
    assert status['https://127.0.0.1:ETCD2']['error'] == 'context deadline exceeded'
    assert status['https://127.0.0.1:ETCD0']['leader'] == '483f4f37af43df7b'
    rc, out, err = etcd_capture('status_no_quorum')
    status = _etcd.read_endpoint_status(json.loads(out), err)
    assert status['https://127.0.0.1:ETCD0']['errors'] == ['etcdserver: no leader']
    assert status['https://127.0.0.1:ETCD0']['leader'] is None
    assert set(status) == set(EPS)


def test_unstarted_member_and_split_leaders():
    members = [dict(id='a', name='m1', client_urls=['https://1:2379'], peer_urls=['https://1:2380'], started=True,
                    learner=False),
               dict(id='c', name='m3', client_urls=['https://3:2379'], peer_urls=['https://3:2380'], started=True,
                    learner=False),
               dict(id='b', name='', client_urls=[], peer_urls=['https://2:2380'], started=False, learner=False)]
    health = {'https://1:2379': dict(healthy=True, error=None, took='1ms'),
              'https://3:2379': dict(healthy=True, error=None, took='1ms')}
    status = {'https://1:2379': dict(member_id='a', leader='a', errors=[]),
              'https://3:2379': dict(member_id='c', leader='c', errors=[])}
    obs = _etcd_gates.etcd_observation(members, health, status)
    assert not obs.ready
    assert obs.missing[0] == ('etcd member b (peer https://2:2380) was added but has never started: start etcd on '
                              'that host with --initial-cluster-state existing')
    assert obs.missing[1].startswith('members disagree on the leader (a, c)')


def test_transient_classification():
    assert _etcd.is_transient(1, 'Error: context deadline exceeded')
    assert _etcd.is_transient(124, '')
    assert not _etcd.is_transient(1, 'open /etc/kubernetes/pki/etcd/ca.crt: permission denied')
    assert not _etcd.is_transient(1, 'Error: unknown flag: --foo')


def test_member_list_lost_later_the_known_members_are_still_asked(run, tls, no_sleep):
    health_calls = []

    def health(endpoints, words):
        health_calls.append(endpoints)
        return etcd_capture('health_one_down') if len(health_calls) == 1 else etcd_capture('health_all_ok')
    fake = FakeEtcdctl({
        ('member', 'list'): [etcd_capture('member_list'), etcd_capture('member_list_asked_down')],
        ('endpoint', 'health'): health,
        ('endpoint', 'status'): [etcd_capture('status_one_down'), etcd_capture('status_all_ok')],
    })
    code, result = run(dict(tls, endpoints=[EPS[2]], timeout=60), fake)
    assert code == 0 and result['ready'] and result['attempts'] == 2 and result['transient_count'] == 0
    assert health_calls[1] == ['https://127.0.0.1:ETCD1', 'https://127.0.0.1:ETCD2', 'https://127.0.0.1:ETCD0']
