# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Record what the REAL kubectl and the REAL etcdctl print against the lab/k8s harness (real etcd 3.4,
kubelab stand-ins) into tests/unit/fixtures/{k8s,etcd}/lab/. Run by hand: .venv/bin/python
tests/integration_k8s/capture.py. Each file is {argv, rc, stdout, stderr}; temp paths and ports are
replaced by placeholders so the unit tests do not depend on them."""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "lab_k8s"))
import harness  # noqa: E402

OUT_K8S = os.path.join(REPO, "tests", "unit", "fixtures", "k8s", "lab")
OUT_ETCD = os.path.join(REPO, "tests", "unit", "fixtures", "etcd", "lab")


def main():
    import tempfile
    tmp = tempfile.mkdtemp(prefix="bs-capture-")
    lab = harness.Lab(tmp, harness.find_kubectl())
    subs = []

    def scrub(text):
        for i, p in enumerate(lab.etcd_client_ports):
            text = text.replace("127.0.0.1:%d" % p, "127.0.0.1:ETCD%d" % i)
        for i, p in enumerate(lab.etcd_peer_ports):
            text = text.replace("127.0.0.1:%d" % p, "127.0.0.1:PEER%d" % i)
        text = text.replace("127.0.0.1:%d" % lab.api_port, "127.0.0.1:APIPORT")
        return text.replace(tmp, "/TMP")

    def rec(outdir, name, argv, env=None):
        res = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, LC_ALL="C", LANG="C", **(env or {})))
        os.makedirs(outdir, exist_ok=True)
        with open(os.path.join(outdir, name + ".json"), "w") as fh:
            json.dump({"argv": [scrub(a) for a in argv], "rc": res.returncode, "stdout": scrub(res.stdout),
                       "stderr": scrub(res.stderr)}, fh, indent=1)
        print(name, res.returncode, res.stderr[:200])
        return res

    def kc(name, *args):
        return rec(OUT_K8S, name, [lab.kubectl_bin, "--kubeconfig", lab.kubeconfig, "--request-timeout", "5s"] + list(args))

    def ec(name, *args, endpoints=None):
        eps = endpoints or ["https://127.0.0.1:%d" % p for p in lab.etcd_client_ports]
        return rec(OUT_ETCD, name, ["etcdctl", "--endpoints", ",".join(eps), "--cacert", lab.pki.ca,
                                    "--cert", lab.etcd_client[0], "--key", lab.etcd_client[1],
                                    "--command-timeout", "3s", "--dial-timeout", "2s"] + list(args),
                   env={"ETCDCTL_API": "3"})

    try:
        lab.start_etcd_cluster()
        lab.start("kube-apiserver", "m1", "master")
        lab.wait_for("apiserver ready", lambda: lab.raw_get("/readyz", cert=False)[0] == 200, timeout=40)
        lab.start("kube-controller-manager", "m1", "master", hostpath_provisioner_dir=os.path.join(tmp, "hp"))
        lab.start("kube-scheduler", "m1", "master")
        for node in ("w1", "w2"):
            lab.start("containerd", node)
            lab.start("kubelet", node)
        lab.wait_for("nodes", lambda: len(lab.kjson("get", "nodes")["items"]) == 2 and all(
            c["status"] == "True" for n in lab.kjson("get", "nodes")["items"] for c in n["status"]["conditions"]
            if c["type"] == "Ready"))
        # etcd: healthy
        ec("health_all_ok", "endpoint", "health", "-w", "json")
        ec("status_all_ok", "endpoint", "status", "-w", "json")
        ec("member_list", "member", "list", "-w", "json")
        # k8s: healthy
        kc("readyz_ok", "get", "--raw", "/readyz?verbose")
        kc("livez_ok", "get", "--raw", "/livez?verbose")
        kc("nodes_ready", "get", "nodes", "-o", "json")
        # a PVC that stays Pending (class with an unknown provisioner) and its pod
        lab.kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: Namespace
metadata: {name: ci}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: cephfs}
provisioner: cephfs.csi.ceph.com
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: jenkins-home, namespace: ci}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: nothing-provisions-this
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
        time.sleep(6)
        kc("pvc_pending", "get", "pvc", "--all-namespaces", "-o", "json")
        kc("pods_pending", "get", "pods", "--all-namespaces", "-o", "json")
        kc("events_pending", "get", "events", "--all-namespaces", "-o", "json")
        # cordon / drain / uncordon as kubectl prints them
        kc("cordon_w1", "cordon", "w1")
        kc("cordon_w1_again", "cordon", "w1")
        kc("nodes_w1_cordoned", "get", "nodes", "-o", "json")
        kc("drain_w2", "drain", "w2", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=30s")
        kc("uncordon_w1", "uncordon", "w1")
        kc("uncordon_w2", "uncordon", "w2")
        kc("node_missing", "get", "node", "worker-02", "-o", "json")
        # containerd down -> Ready False; kubelet down -> Unknown after the grace period
        lab.stop_proc("containerd-w2")
        lab.stop_proc("kubelet-w1")
        time.sleep(14)
        kc("nodes_not_ready", "get", "nodes", "-o", "json")
        # etcd member down
        lab.stop_proc("etcd2")
        time.sleep(1)
        ec("health_one_down", "endpoint", "health", "-w", "json")
        ec("status_one_down", "endpoint", "status", "-w", "json")
        ec("member_list_one_down", "member", "list", "-w", "json",
           endpoints=["https://127.0.0.1:%d" % lab.etcd_client_ports[0]])
        ec("member_list_asked_down", "member", "list", "-w", "json",
           endpoints=["https://127.0.0.1:%d" % lab.etcd_client_ports[2]])
        # quorum lost
        lab.stop_proc("etcd1")
        time.sleep(3)
        ec("health_no_quorum", "endpoint", "health", "-w", "json")
        ec("status_no_quorum", "endpoint", "status", "-w", "json")
        kc("readyz_no_quorum", "get", "--raw", "/readyz?verbose")
        kc("livez_no_quorum", "get", "--raw", "/livez?verbose")
        # apiserver down
        lab.stop_proc("kube-apiserver-m1")
        time.sleep(1)
        kc("readyz_apiserver_down", "get", "--raw", "/readyz?verbose")
        kc("nodes_apiserver_down", "get", "nodes", "-o", "json")
        # still no quorum, a little later (etcd0 alive, alone)
        ec("health_all_down", "endpoint", "health", "-w", "json")
    finally:
        lab.stop()


if __name__ == "__main__" and not sys.argv[1:]:
    main()


def capture_leases():
    """Nodes and node Leases with kubelets that post an unchanged status only every 5 min (like real ones)."""
    import tempfile
    tmp = tempfile.mkdtemp(prefix="bs-capture-")
    lab = harness.Lab(tmp, harness.find_kubectl())

    def rec(name, *args):
        argv = [lab.kubectl_bin, "--kubeconfig", lab.kubeconfig, "--request-timeout", "5s"] + list(args)
        res = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, LC_ALL="C", LANG="C"))
        with open(os.path.join(OUT_K8S, name + ".json"), "w") as fh:
            json.dump({"argv": [a.replace(tmp, "/TMP") for a in argv], "rc": res.returncode,
                       "stdout": res.stdout.replace(tmp, "/TMP"), "stderr": res.stderr.replace(tmp, "/TMP")}, fh,
                      indent=1)
        print(name, res.returncode, res.stderr[:200])

    try:
        lab.start_etcd_cluster()
        lab.start("kube-apiserver", "m1", "master")
        lab.wait_for("apiserver ready", lambda: lab.raw_get("/readyz", cert=False)[0] == 200, timeout=40)
        lab.start("kube-controller-manager", "m1", "master", node_monitor_grace_seconds=40)
        for node in ("w1", "w2"):
            lab.start("containerd", node, node_status_report_seconds=300)
            lab.start("kubelet", node, node_status_report_seconds=300, node_lease_renew_seconds=2)
        lab.wait_for("leases", lambda: len(lab.kjson("get", "leases", "-n", "kube-node-lease")["items"]) == 2)
        time.sleep(12)
        rec("nodes_status_report_5min", "get", "nodes", "-o", "json")
        rec("node_leases", "get", "leases", "-n", "kube-node-lease", "-o", "json")
        lab.stop_proc("kubelet-w1")
        time.sleep(8)
        rec("nodes_w1_kubelet_off_within_grace", "get", "nodes", "-o", "json")
        rec("node_leases_w1_kubelet_off", "get", "leases", "-n", "kube-node-lease", "-o", "json")
    finally:
        lab.stop()


if __name__ == "__main__" and sys.argv[1:] == ["leases"]:
    capture_leases()
