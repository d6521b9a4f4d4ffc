# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gates against the harness. Each test breaks one thing, checks the gate names it, and repairs it."""
import json
import os
import subprocess
import sys
import time

from conftest import COLLECTIONS, node_ready

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


PLAYBOOK = """
- name: Gates and cordon memory through ansible-playbook
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/blackstart.cluster.k8s: {kubectl: "%(kubectl)s", kubeconfig: "%(kubeconfig)s", cli_timeout: 5}
    group/blackstart.cluster.etcd: {endpoints: %(etcd)s, cacert: "%(ca)s", cert: "%(cert)s", key: "%(key)s"}
  tasks:
    - name: Etcd
      blackstart.cluster.etcd_wait: {timeout: 30}
      register: etcd
    - name: API servers
      blackstart.cluster.k8s_apiserver_wait: {endpoints: ["%(api)s"], timeout: 30}
    - name: Nodes
      blackstart.cluster.k8s_nodes_wait: {nodes: [w1, w2], timeout: 30}
    - name: An operator cordons w2
      ansible.builtin.command: "%(kubectl)s --kubeconfig %(kubeconfig)s cordon w2"
      changed_when: true
    - name: Power-off drains
      blackstart.cluster.k8s_cordon: {nodes: [w1, w2], state: drained}
      register: power_off
    - name: Power-on uncordons what the power-off changed
      blackstart.cluster.k8s_cordon: {nodes: "{{ power_off.changed_nodes }}", state: uncordoned}
      register: power_on
    - name: Storage
      blackstart.cluster.k8s_storage_wait: {timeout: 30}
    - name: Save
      ansible.builtin.copy:
        content: "{{ {'etcd': etcd.state.healthy, 'off': power_off, 'on': power_on} | to_json }}"
        dest: "%(out)s"
        mode: "0600"
"""


def test_modules_through_ansible_playbook(gates, lab):
    out = os.path.join(lab.tmp, "playbook-result.json")
    book = os.path.join(lab.tmp, "gates.yml")
    with open(book, "w") as fh:
        fh.write(PLAYBOOK % dict(kubectl=lab.kubectl_bin, kubeconfig=lab.kubeconfig, etcd=json.dumps(gates.etcd_urls),
                                 ca=lab.pki.ca, cert=lab.etcd_client[0], key=lab.etcd_client[1], api=lab.api_url,
                                 out=out))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_NOCOLOR="1")
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    try:
        res = subprocess.run([playbook, "-i", "localhost,", "-c", "local", book], check=False, capture_output=True, text=True,
                             env=env, timeout=240)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
        with open(out) as fh:
            got = json.load(fh)
        assert got["etcd"] == 3
        assert got["off"]["changed_nodes"] == ["w1"] and got["off"]["already_unschedulable"] == ["w2"]
        assert got["on"]["changed_nodes"] == ["w1"]
        assert lab.kjson("get", "node", "w2")["spec"]["unschedulable"] is True
        assert not lab.kjson("get", "node", "w1")["spec"].get("unschedulable")
        assert "ok=8" in res.stdout and "failed=0" in res.stdout, res.stdout[-1500:]
    finally:
        lab.kubectl("uncordon", "w1", "w2")


def test_etcd_member_stopped_is_named(gates, lab):
    lab.stop_proc("etcd2")
    try:
        url = gates.etcd_urls[2]
        r = gates.etcd(timeout=3)
        assert not r["ready"] and r["failed"] if "failed" in r else not r["ready"], r
        assert "etcd member etcd2 (%s) unhealthy: context deadline exceeded" % url in r["msg"], r["msg"]
        assert r["state"]["unhealthy"] == ["etcd2"] and r["state"]["has_quorum"], r["state"]
        # Only the dead member asked: the member list cannot be read; the gate says so and what to do.
        r = gates.etcd(endpoints=[url], timeout=2)
        assert not r["ready"]
        assert "could not read the etcd member list from %s" % url in r["msg"], r["msg"]
        assert "give every member's client URL in endpoints" in r["msg"]
        # The two others asked: they answer for the dead one.
        r = gates.etcd(endpoints=gates.etcd_urls[:2], members=["etcd0", "etcd1"], timeout=5)
        assert r["ready"], r
    finally:
        lab.start_etcd(2)
    t0 = time.monotonic()
    r = gates.etcd(timeout=30)
    assert r["ready"], r
    print("etcd gate passed %.1fs after etcd2 was started again (%d checks)" % (time.monotonic() - t0, r["attempts"]))


def test_kubelet_stopped_node_gate_names_the_node(gates, lab):
    lab.wait_for("w1 Ready", lambda: node_ready(lab, "w1") == "True", timeout=30)
    assert gates.k8s("k8s_nodes_wait", timeout=10)["ready"]
    t0 = time.monotonic()
    lab.stop_proc("kubelet-w1")
    try:
        seen = None
        while time.monotonic() - t0 < GRACE + 20:
            r = gates.k8s("k8s_nodes_wait", nodes=["w1", "w2"], timeout=0)
            if "w1" in r["state"]["not_ready"]:
                seen = time.monotonic() - t0
                break
            time.sleep(0.5)
        assert seen is not None, "node gate never saw w1 NotReady"
        print("node gate saw w1 NotReady %.1fs after its kubelet stopped (grace %ds)" % (seen, GRACE))
        assert seen >= GRACE - 1
        msg = r["msg"]
        assert "node w1 NotReady (Ready=Unknown): NodeStatusUnknown: Kubelet stopped posting node status." in msg, msg
        assert "last heartbeat" in msg
        r = gates.k8s("k8s_nodes_wait", nodes=["w1", "worker-02"], timeout=0)
        assert "node worker-02 not registered" in r["msg"], r["msg"]
    finally:
        lab.start("kubelet", "w1")
    t1 = time.monotonic()
    r = gates.k8s("k8s_nodes_wait", timeout=30)
    assert r["ready"], r
    print("node gate passed %.1fs after the kubelet was started" % (time.monotonic() - t1))


def test_containerd_stopped_node_gate_says_runtime_down(gates, lab):
    lab.stop_proc("containerd-w2")
    try:
        t0 = time.monotonic()
        r = gates.k8s("k8s_nodes_wait", nodes=["w2"], timeout=0)
        while r["ready"] and time.monotonic() - t0 < 15:
            time.sleep(0.5)
            r = gates.k8s("k8s_nodes_wait", nodes=["w2"], timeout=0)
        assert not r["ready"] and "node w2 NotReady: KubeletNotReady: container runtime is down" in r["msg"], r["msg"]
        print("node gate saw w2 NotReady %.1fs after containerd stopped" % (time.monotonic() - t0))
    finally:
        lab.start("containerd", "w2")
    assert gates.k8s("k8s_nodes_wait", timeout=30)["ready"]


def test_cordon_memory_keeps_the_operators_cordon(gates, lab):
    lab.kubectl("cordon", "w2")   # an operator's cordon, before the power-off
    try:
        r = gates.k8s("k8s_cordon", nodes=["w1", "w2"], state="drained", _ansible_check_mode=True)
        assert r["changed"] and r["changed_nodes"] == ["w1"] and r["already_unschedulable"] == ["w2"], r
        assert not lab.kjson("get", "node", "w1")["spec"].get("unschedulable"), "check mode changed something"
        off = gates.k8s("k8s_cordon", nodes=["w1", "w2"], state="drained", delete_emptydir_data=True,
                        drain_timeout=60)
        assert off["changed"] and off["changed_nodes"] == ["w1"] and off["already_unschedulable"] == ["w2"], off
        again = gates.k8s("k8s_cordon", nodes=["w1", "w2"], state="drained")
        assert not again["changed"] and again["changed_nodes"] == [] and again["drained_nodes"] == [], again
        assert sorted(again["already_unschedulable"]) == ["w1", "w2"]
        on = gates.k8s("k8s_cordon", nodes=off["changed_nodes"], state="uncordoned")
        assert on["changed"] and on["changed_nodes"] == ["w1"], on
        assert not lab.kjson("get", "node", "w1")["spec"].get("unschedulable")
        assert lab.kjson("get", "node", "w2")["spec"]["unschedulable"] is True, "the operator's cordon was lost"
        assert not gates.k8s("k8s_cordon", nodes=["w1"], state="uncordoned")["changed"]
        bad = gates.k8s("k8s_cordon", nodes=["w1", "worker-09"], state="cordoned")
        assert bad.get("failed") and "node worker-09 not found in the cluster" in bad["msg"], bad
        assert not lab.kjson("get", "node", "w1")["spec"].get("unschedulable"), "a typo must change nothing"
    finally:
        lab.kubectl("uncordon", "w1", "w2")


def test_storage_gate_names_pending_pvc_and_stuck_pod(gates, lab):
    lab.kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: Namespace
metadata: {name: ci}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: jenkins-home, namespace: ci}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: cephfs-not-provisioned
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: jenkins-0, namespace: ci}
spec:
  containers:
  - {name: main, image: busybox, command: [sleep, "100000"], volumeMounts: [{name: home, mountPath: /home}]}
  volumes:
  - {name: home, persistentVolumeClaim: {claimName: jenkins-home}}
""")
    try:
        time.sleep(3)
        r = gates.k8s("k8s_storage_wait", grace=1, timeout=2, delete_stuck_pods=True)
        assert not r["ready"] and not r["changed"] and r["deleted_pods"] == [], r
        assert "PVC ci/jenkins-home Pending (storage class cephfs-not-provisioned)" in r["msg"], r["msg"]
        assert "pod ci/jenkins-0 stuck Pending (not scheduled: 0/2 nodes are available: pod has unbound immediate " \
               "PersistentVolumeClaims.)" in r["msg"], r["msg"]
        # Out of scope: another class, another namespace.
        assert gates.k8s("k8s_storage_wait", storage_classes=["rbd"], grace=1, timeout=0)["ready"]
        assert gates.k8s("k8s_storage_wait", namespaces=["default"], grace=1, timeout=0)["ready"]
        # Within the grace period the pod is not stuck yet, only still waiting; the claim still is not Bound.
        r = gates.k8s("k8s_storage_wait", grace=3600, timeout=0)
        assert [p["past_grace"] for p in r["state"]["stuck_pods"]] == [False], r
        assert "pod ci/jenkins-0 still Pending (not scheduled" in r["msg"], r["msg"]
        assert r["state"]["unbound_pvcs"][0]["name"] == "jenkins-home", r
        # The looser check lets the young pod pass; the claim alone holds the gate.
        r = gates.k8s("k8s_storage_wait", grace=3600, timeout=0, pods_running=False)
        assert r["state"]["stuck_pods"] == [] and r["state"]["unbound_pvcs"][0]["name"] == "jenkins-home", r
    finally:
        lab.kubectl("delete", "namespace", "ci", "--wait=false", check=False)


# The control plane is restarted last: afterwards nodes can flap NotReady for a grace period.
def test_apiserver_stopped_is_named(gates, lab):
    lab.stop_proc("kube-apiserver-m1")
    try:
        r = gates.k8s("k8s_apiserver_wait", endpoints=[lab.api_url], timeout=2)
        assert not r["ready"]
        assert "apiserver %s not answering: The connection to the server 127.0.0.1:%d was refused" % (
            lab.api_url, lab.api_port) in r["msg"], r["msg"]
        # The node gate cannot read anything: it waits (transient), it does not fail at once.
        r = gates.k8s("k8s_nodes_wait", timeout=1)
        assert not r["ready"] and r["transient_count"] >= 1 and "was refused" in r["msg"], r
    finally:
        lab.start("kube-apiserver", "m1", "master")
    t0 = time.monotonic()
    r = gates.k8s("k8s_apiserver_wait", endpoints=[lab.api_url], timeout=60)
    assert r["ready"], r
    took = time.monotonic() - t0
    print("apiserver gate passed %.1fs after the apiserver was started (%d checks)" % (took, r["attempts"]))


def test_etcd_quorum_lost_apiserver_names_failing_checks(gates, lab):
    lab.stop_proc("etcd1")
    lab.stop_proc("etcd2")
    try:
        t0 = time.monotonic()
        r = gates.k8s("k8s_apiserver_wait", endpoints=[lab.api_url], timeout=4, cli_timeout=3)
        assert not r["ready"]
        assert "apiserver %s not ready: [-]etcd failed: reason withheld" % lab.api_url in r["msg"], r["msg"]
        ep = r["state"]["endpoints"][0]
        assert "etcd" in ep["failed_checks"] and ep["live"] is False, ep
        r = gates.etcd(timeout=2)
        assert not r["ready"] and "no etcd leader elected" in r["msg"] or "could not read the etcd member list" in r["msg"], r["msg"]
        print("apiserver gate named [-]etcd within %.1fs of quorum loss" % (time.monotonic() - t0))
    finally:
        lab.start_etcd(1)
        lab.start_etcd(2)
    r = gates.k8s("k8s_apiserver_wait", endpoints=[lab.api_url], timeout=60)
    assert r["ready"], r
    assert gates.etcd(timeout=30)["ready"]
