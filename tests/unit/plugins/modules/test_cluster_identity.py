# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""cluster_identity: the Ceph fsid and the kube-system UID, and a cluster that does not answer is not an error."""

from __future__ import annotations

import json

from ansible_collections.blackstart.cluster.plugins.modules import cluster_identity

from tests.unit import ceph_fakes, k8s_fakes

FSID = 'c3364b77-5770-46b5-8f5c-98adfd9bba89'


def test_the_ceph_fsid(monkeypatch, capsys):
    fake = ceph_fakes.FakeCeph('healthy', extra={('fsid',): (0, json.dumps({'fsid': FSID}), '')})
    code, result = ceph_fakes.run_module(cluster_identity.main, {'component': 'ceph'}, fake, monkeypatch, capsys)
    assert code == 0 and result['ceph_fsid'] == FSID and result['reachable'] is True and result['changed'] is False
    assert result['error'] == ''


def test_a_ceph_cluster_without_quorum_gives_no_identity_and_says_why(monkeypatch, capsys):
    fake = ceph_fakes.FakeCeph('healthy', extra={('fsid',): (1, '', 'error connecting to the cluster: timed out')})
    code, result = ceph_fakes.run_module(cluster_identity.main, {'component': 'ceph'}, fake, monkeypatch, capsys)
    assert code == 0 and result['ceph_fsid'] == '' and result['reachable'] is False
    assert 'fsid' in result['error'] and 'timed out' in result['error']


def test_the_kube_system_uid_and_an_apiserver_that_is_down(monkeypatch, capsys, tmp_path):
    kubeconfig = tmp_path / 'kubeconfig'
    kubeconfig.write_text('apiVersion: v1\n')
    args = {'component': 'kubernetes', 'kubectl': '/bin/true', 'kubeconfig': str(kubeconfig)}
    ns = {'metadata': {'name': 'kube-system', 'uid': 'cdfca9ed-0213-41b8-a92f-4f5f927daa58'}}
    fake = k8s_fakes.FakeKubectl({('get', 'namespace', 'kube-system'): (0, json.dumps(ns), '')})
    code, result = k8s_fakes.run_module(cluster_identity.main, args, fake, monkeypatch, capsys)
    assert code == 0 and result['kube_system_uid'] == ns['metadata']['uid'] and result['reachable'] is True
    down = k8s_fakes.FakeKubectl({('get', 'namespace', 'kube-system'): (
        1, '', 'The connection to the server 10.0.0.1:6443 was refused - did you specify the right host or port?')})
    code, result = k8s_fakes.run_module(cluster_identity.main, args, down, monkeypatch, capsys)
    assert code == 0 and result['kube_system_uid'] == '' and result['reachable'] is False and 'refused' in result['error']
