# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gates against the harness. Each test breaks one thing, checks the gate names it, and repairs it."""
import time

from conftest import node_ready

GRACE = 8  # node_monitor_grace_seconds in the harness config


def test_all_gates_pass_on_a_healthy_cluster(gates, lab):
    r = gates.etcd(timeout=30)
    assert r["ready"], r
    assert r["state"]["healthy"] == 3 and r["state"]["leader"] in ("etcd0", "etcd1", "etcd2")
    r = gates.k8s("k8s_apiserver_wait", endpoints=[lab.api_url], timeout=30)
    assert r["ready"], r
    r = gates.k8s("k8s_apiserver_wait", timeout=30)
    assert r["ready"] and r["state"]["endpoints"][0]["endpoint"] == lab.api_url, r
    r = gates.k8s("k8s_nodes_wait", timeout=30)
    assert r["ready"] and sorted(r["state"]["ready"]) == ["w1", "w2"], r
    r = gates.k8s("k8s_storage_wait", timeout=10)
    assert r["ready"] and r["deleted_pods"] == [] and not r["changed"], r
