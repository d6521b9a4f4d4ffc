# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""State x gate: what each k8s/etcd decision says on every recorded state (fixtures/{k8s,etcd})."""

from __future__ import annotations

import json

import pytest

from ansible_collections.blackstart.cluster.plugins.module_utils import _etcd, _etcd_gates, _k8s, _k8s_gates

from tests.unit.k8s_fakes import capture, etcd_capture, public_text

T = _k8s.parse_k8s_time


def etcd_state(members, health, status):
    m = _etcd.read_member_list(json.loads(etcd_capture(members)[1]))
    rc, out, err = etcd_capture(health)
    h = _etcd.read_endpoint_health(json.loads(out), err)
    rc, out, err = etcd_capture(status)
    s = _etcd.read_endpoint_status(json.loads(out), err)
    return _etcd_gates.etcd_observation(m, h, s)


@pytest.mark.parametrize('members,health,status,ready,says', [
    ('member_list', 'health_all_ok', 'status_all_ok', True, []),
    ('member_list', 'health_one_down', 'status_one_down', False, ['etcd member etcd2 (https://127.0.0.1:ETCD2) unhealthy']),
    ('member_list', 'health_no_quorum', 'status_no_quorum', False, ['no etcd leader elected (0 of 3 members healthy',
                                                                    'etcd member etcd0', 'etcd member etcd1']),
    ('member_list', 'health_all_down', 'status_no_quorum', False, ['no etcd leader elected']),
])
def test_etcd_table(members, health, status, ready, says):
    obs = etcd_state(members, health, status)
    assert obs.ready is ready
    for s in says:
        assert any(s in m for m in obs.missing), (s, obs.missing)


def _health_from(kind, name):
    if kind == 'lab-ok':
        body = _k8s.parse_health_body(capture(name)[1])
        return dict(ok=not body['failed'], checks=body['checks'], failed=body['failed'], error=None)
    if kind == 'lab-err':
        rc, out, err = capture(name)
        parsed = _k8s.parse_health_error(err)
        if parsed is None:
            return dict(ok=False, checks={}, failed=[], error=err.strip().splitlines()[-1])
        return dict(ok=False, checks=parsed['checks'], failed=parsed['failed'], error=None)
    body = _k8s.parse_health_body(public_text(name))
    return dict(ok=not body['failed'], checks=body['checks'], failed=body['failed'], error=None)


@pytest.mark.parametrize('kind,name,ready,says', [
    ('lab-ok', 'readyz_ok', True, None),
    ('public', 'readyz_verbose_k8s_docs.txt', True, None),
    ('public', 'readyz_verbose_exclude_etcd_k8s_docs.txt', True, None),
    ('public', 'livez_verbose_pet2cattle.txt', True, None),
    ('public', 'readyz_k3s_kine_failing.txt', False, 'not ready: [-]etcd failed: reason withheld, [-]etcd-readiness failed'),
    ('lab-err', 'readyz_no_quorum', False, 'not ready: [-]etcd failed: reason withheld'),
    ('lab-err', 'readyz_apiserver_down', False, 'not answering: The connection to the server'),
])
def test_apiserver_table(kind, name, ready, says):
    obs = _k8s_gates.apiserver_observation([dict(endpoint='https://cp1:6443', readyz=_health_from(kind, name),
                                                 livez=None)])
    assert obs.ready is ready
    if says:
        assert says in obs.missing[0], obs.missing


@pytest.mark.parametrize('name,now,ready,not_ready', [
    ('nodes_ready', '2026-11-25T14:24:10Z', True, []),
    ('nodes_w1_cordoned', '2026-11-25T14:24:20Z', True, []),
    ('nodes_not_ready', '2026-11-25T14:24:40Z', False, ['w1', 'w2']),
])
def test_nodes_table(name, now, ready, not_ready):
    obs = _k8s_gates.nodes_observation(_k8s.read_nodes(json.loads(capture(name)[1])), None, now=T(now))
    assert obs.ready is ready and obs.state['not_ready'] == not_ready


@pytest.mark.parametrize('pvcs,pods,events,now,ready,says', [
    ('pvc_pending', 'pods_pending', 'events_pending', '2026-11-25T14:26:00Z', False,
     ['PVC ci/jenkins-home Pending', 'pod ci/jenkins-0 stuck Pending (not scheduled']),
    ('pvc_bound', 'pods_failed_mount', 'events_failed_mount', '2026-11-25T14:41:19Z', False,
     ['stuck ContainerCreating 95s: FailedMount', 'probably no MDS server is up?']),
    ('pvc_bound', None, 'events_failed_mount', '2026-11-25T14:41:19Z', True, []),
])
def test_storage_table(pvcs, pods, events, now, ready, says):
    pod_list = _k8s.read_pods(json.loads(capture(pods)[1])) if pods else []
    obs, _stuck = _k8s_gates.storage_observation(
        _k8s.read_pvcs(json.loads(capture(pvcs)[1])), pod_list, _k8s.read_events(json.loads(capture(events)[1])),
        T(now), grace=60)
    assert obs.ready is ready
    for s in says:
        assert any(s in m for m in obs.missing), (s, obs.missing)
