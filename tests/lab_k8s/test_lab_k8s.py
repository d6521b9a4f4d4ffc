"""End-to-end: etcd (3 members, TLS) + kubelab components on loopback, driven
by the real kubectl.  One lab per module; the destructive quorum test runs last."""
import json
import os
import ssl
import time
import urllib.request

import pytest

import harness

pytestmark = pytest.mark.skipif(harness.prerequisites() is not None, reason=harness.prerequisites() or "")

GRACE = 8  # node_monitor_grace_seconds in the harness config


def _manifest(tmp):
    data = os.path.join(tmp, "mnt", "data")
    return f"""
apiVersion: v1
kind: Namespace
metadata: {{name: apps}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {{name: local}}
provisioner: kubelab.local/hostpath
reclaimPolicy: Retain
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: apps}}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: local
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: apps}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo started on $KUBERNETES_NODE_NAME >> {data}/log; exec sleep 100000"]
        volumeMounts: [{{name: data, mountPath: {data}}}]
      volumes:
      - name: data
        persistentVolumeClaim: {{claimName: data}}
"""


@pytest.fixture(scope="module")
def lab():
    tmp = harness.make_tmp("e2e")
    lab = harness.Lab(tmp, harness.find_kubectl())
    try:
        lab.start_etcd_cluster()
        lab.start("kube-apiserver", "m1", "master")
        lab.wait_for("apiserver ready", lambda: lab.raw_get("/readyz", cert=False)[0] == 200, timeout=40)
        lab.start("kube-controller-manager", "m1", "master", hostpath_provisioner_dir=os.path.join(tmp, "hostpath"))
        lab.start("kube-scheduler", "m1", "master")
        for node in ("w1", "w2"):
            lab.start("containerd", node)
            lab.start("kubelet", node)
        yield lab
    finally:
        lab.kubectl("delete", "namespace", "apps", "--wait=false", check=False, timeout=20)
        lab.stop()
        harness.remove_tmp(tmp)


def node_ready(lab, name):
    node = lab.kjson("get", "node", name)
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["status"]


def web_pod(lab):
    pods = [p for p in lab.kjson("get", "pods", "-n", "apps", "-l", "app=web")["items"]
            if not p["metadata"].get("deletionTimestamp")]
    return pods[0] if len(pods) == 1 and pods[0]["status"].get("phase") == "Running" else None


def test_health_and_authentication(lab):
    assert lab.raw_get("/readyz", cert=False) == (200, "ok")
    code, body = lab.raw_get("/readyz?verbose", cert=False)
    assert code == 200 and "[+]etcd ok" in body and body.strip().endswith("readyz check passed")
    assert lab.raw_get("/livez", cert=False)[0] == 200
    assert json.loads(lab.raw_get("/version", cert=False)[1])["major"] == "1"
    # anonymous is limited to health/version
    assert lab.raw_get("/api/v1/nodes", cert=False)[0] == 401
    # a client certificate from another CA fails the TLS handshake
    rogue = harness.PKI(os.path.join(lab.tmp, "rogue"))
    crt, key = rogue.issue("intruder", "/O=system:masters/CN=intruder")
    ctx = ssl.create_default_context(cafile=lab.pki.ca)
    ctx.load_cert_chain(crt, key)
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(lab.api_url + "/api/v1/nodes", context=ctx, timeout=10).read()


def test_nodes_register_ready(lab):
    lab.wait_for("both nodes Ready", lambda: all(node_ready(lab, n) == "True" for n in ("w1", "w2")))
    nodes = lab.kjson("get", "nodes")["items"]
    assert {n["metadata"]["name"] for n in nodes} == {"w1", "w2"}
    info = nodes[0]["status"]["nodeInfo"]
    assert info["kubeletVersion"].startswith("v1.37") and info["containerRuntimeVersion"].startswith("containerd://")
    lease = lab.kjson("get", "lease", "-n", "kube-node-lease", "w1")
    assert lease["spec"]["holderIdentity"] == "w1" and lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    wide = lab.kubectl("get", "nodes", "-o", "wide").stdout
    assert "INTERNAL-IP" in wide and "CONTAINER-RUNTIME" in wide and " Ready " in wide


def test_apply_workload_binds_and_runs(lab):
    out = lab.kubectl("apply", "-f", "-", input=_manifest(lab.tmp)).stdout
    assert "deployment.apps/web created" in out
    # apply is idempotent (client-side apply, strategic merge patch, no openapi schema needed)
    assert "unchanged" in lab.kubectl("apply", "-f", "-", input=_manifest(lab.tmp)).stdout
    lab.wait_for("pvc Bound", lambda: lab.kjson("get", "pvc", "-n", "apps", "data")["status"]["phase"] == "Bound")
    pod = lab.wait_for("web pod Running", lambda: web_pod(lab), timeout=40)
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    assert lab.kjson("get", "pv")["items"][0]["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    listing = lab.kubectl("get", "pods,pvc,deploy", "-A", "-o", "wide").stdout
    assert "Running" in listing and "Bound" in listing and "1/1" in listing
    events = lab.kubectl("get", "events", "-n", "apps").stdout
    assert "Scheduled" in events and "ProvisioningSucceeded" in events
    assert "Controlled By:  ReplicaSet/web-" in lab.kubectl("describe", "pod", "-n", "apps",
                                                             pod["metadata"]["name"]).stdout


def test_cordon_uncordon(lab):
    lab.kubectl("cordon", "w1")
    node = lab.kjson("get", "node", "w1")
    assert node["spec"]["unschedulable"] is True
    lab.wait_for("unschedulable taint", lambda: any(
        t["key"] == "node.kubernetes.io/unschedulable" for t in lab.kjson("get", "node", "w1")["spec"].get("taints", [])))
    assert "Ready,SchedulingDisabled" in lab.kubectl("get", "node", "w1").stdout
    lab.kubectl("uncordon", "w1")
    assert not lab.kjson("get", "node", "w1")["spec"].get("unschedulable")
    lab.wait_for("taint removed", lambda: not lab.kjson("get", "node", "w1")["spec"].get("taints"))


def test_drain_moves_pod_to_other_node(lab):
    pod = lab.wait_for("web pod Running", lambda: web_pod(lab), timeout=30)
    src = pod["spec"]["nodeName"]
    dst = "w2" if src == "w1" else "w1"
    t0 = time.monotonic()
    res = lab.kubectl("drain", src, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s", timeout=90)
    assert f"node/{src} drained" in res.stdout, res.stdout + res.stderr
    new = lab.wait_for("replacement Running", lambda: (lambda p: p if p and p["metadata"]["uid"] != pod["metadata"]["uid"]
                                                       else None)(web_pod(lab)), timeout=40)
    assert new["spec"]["nodeName"] == dst
    print(f"drain + reschedule took {time.monotonic() - t0:.1f}s")
    log = open(os.path.join(lab.tmp, "hostpath", lab.kjson("get", "pvc", "-n", "apps", "data")["spec"]["volumeName"],
                            "log")).read()
    assert f"started on {src}" in log and f"started on {dst}" in log
    lab.kubectl("uncordon", src)


def test_delete_pod_is_replaced(lab):
    pod = lab.wait_for("web pod Running", lambda: web_pod(lab), timeout=30)
    lab.kubectl("delete", "pod", "-n", "apps", pod["metadata"]["name"], "--timeout=60s", timeout=90)
    lab.wait_for("replacement", lambda: (lambda p: p and p["metadata"]["uid"] != pod["metadata"]["uid"])(web_pod(lab)),
                 timeout=40)


def test_scale_to_zero_and_back(lab):
    lab.wait_for("web pod Running", lambda: web_pod(lab), timeout=30)
    assert "scaled" in lab.kubectl("scale", "deploy", "web", "-n", "apps", "--replicas=0").stdout
    lab.wait_for("no web pods", lambda: not lab.kjson("get", "pods", "-n", "apps", "-l", "app=web")["items"],
                 timeout=40)
    assert lab.kjson("get", "deploy", "-n", "apps", "web")["spec"]["replicas"] == 0
    lab.kubectl("scale", "deploy/web", "-n", "apps", "--replicas=1", "--current-replicas=0")
    lab.wait_for("web pod Running", lambda: web_pod(lab), timeout=40)


def test_bare_pod_create_restart_policy_and_delete(lab):
    pods = """
apiVersion: v1
kind: Pod
metadata: {name: crasher, namespace: apps}
spec:
  restartPolicy: OnFailure
  containers:
  - {name: c, image: busybox, command: ["sh", "-c", "sleep 0.5; exit 3"]}
---
apiVersion: v1
kind: Pod
metadata: {name: oneshot, namespace: apps}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox, command: ["true"]}
"""
    assert "pod/crasher created" in lab.kubectl("create", "-f", "-", input=pods).stdout
    lab.wait_for("oneshot Succeeded", lambda: lab.kjson("get", "pod", "-n", "apps", "oneshot")["status"]
                 .get("phase") == "Succeeded", timeout=30)
    cs = lab.wait_for("crasher restarted twice", lambda: (lambda s: s if s and s[0]["restartCount"] >= 2 else None)(
        lab.kjson("get", "pod", "-n", "apps", "crasher")["status"].get("containerStatuses")), timeout=40)
    assert cs[0]["lastState"]["terminated"]["exitCode"] == 3
    lab.kubectl("delete", "pod", "-n", "apps", "crasher", "oneshot", "--timeout=60s", timeout=90)
    assert lab.kubectl("get", "pod", "-n", "apps", "crasher", check=False).returncode != 0


def test_controller_manager_leader_failover(lab):
    lease = lab.kjson("get", "lease", "-n", "kube-system", "kube-controller-manager")
    first = lease["spec"]["holderIdentity"]
    assert first.startswith("m1_")
    lab.start("kube-controller-manager", "m2", "master", hostpath_provisioner_dir=os.path.join(lab.tmp, "hostpath"))
    time.sleep(3)
    assert lab.kjson("get", "lease", "-n", "kube-system", "kube-controller-manager")["spec"]["holderIdentity"] == first
    t0 = time.monotonic()
    lab.stop_proc("kube-controller-manager-m1")
    lab.wait_for("m2 leads", lambda: lab.kjson("get", "lease", "-n", "kube-system", "kube-controller-manager")
                 ["spec"]["holderIdentity"].startswith("m2_"), timeout=30)
    print(f"controller-manager failover took {time.monotonic() - t0:.1f}s (lease 6s)")


def test_containerd_stop_makes_node_not_ready(lab):
    t0 = time.monotonic()
    lab.stop_proc("containerd-w2")
    lab.wait_for("w2 NotReady", lambda: node_ready(lab, "w2") == "False", timeout=15)
    print(f"w2 NotReady {time.monotonic() - t0:.1f}s after containerd stopped")
    lab.start("containerd", "w2")
    lab.wait_for("w2 Ready again", lambda: node_ready(lab, "w2") == "True", timeout=15)


def test_kubelet_stop_makes_node_unknown(lab):
    lab.wait_for("w1 Ready", lambda: node_ready(lab, "w1") == "True", timeout=15)
    t0 = time.monotonic()
    lab.stop_proc("kubelet-w1")
    lab.wait_for("w1 Unknown", lambda: node_ready(lab, "w1") == "Unknown", timeout=GRACE + 15)
    took = time.monotonic() - t0
    print(f"w1 NotReady (Unknown) {took:.1f}s after kubelet stopped (grace {GRACE}s)")
    assert took >= GRACE - 1
    assert "NotReady" in lab.kubectl("get", "node", "w1").stdout
    taints = {(t["key"], t["effect"]) for t in lab.kjson("get", "node", "w1")["spec"]["taints"]}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in taints
    lab.start("kubelet", "w1")
    lab.wait_for("w1 Ready again", lambda: node_ready(lab, "w1") == "True", timeout=20)


def test_clients_survive_apiserver_restart(lab):
    """Kept-alive client connections go stale when the apiserver restarts; heartbeats must go on."""
    before = lab.kjson("get", "lease", "-n", "kube-node-lease", "w2")["spec"]["renewTime"]
    lab.stop_proc("kube-apiserver-m1")
    time.sleep(3)
    lab.start("kube-apiserver", "m1", "master")
    lab.wait_for("apiserver ready", lambda: lab.raw_get("/readyz", cert=False)[0] == 200, timeout=30)
    lab.wait_for("w2 lease renewed", lambda: lab.kjson("get", "lease", "-n", "kube-node-lease", "w2")
                 ["spec"]["renewTime"] > before, timeout=20)
    assert all(node_ready(lab, n) == "True" for n in ("w1", "w2"))


def test_whole_cluster_power_cycle(lab):
    """Everything stops (workers first, etcd last) and starts again (etcd first):
    the cordon is remembered, the pod comes back on its node with restartCount+1
    and its data, and no node is declared dead by the cold-started controller."""
    pod = lab.wait_for("web pod Running", lambda: web_pod(lab), timeout=30)
    node = pod["spec"]["nodeName"]
    other = "w2" if node == "w1" else "w1"
    lab.kubectl("cordon", other)
    order = ["kubelet-w1", "kubelet-w2", "containerd-w1", "containerd-w2", "kube-scheduler-m1",
             "kube-controller-manager-m1", "kube-controller-manager-m2", "kube-apiserver-m1", "etcd0", "etcd1", "etcd2"]
    for name in order:
        lab.stop_proc(name)
    stopped = time.time()
    time.sleep(2)
    t0 = time.monotonic()
    lab.start_etcd_cluster()
    lab.start("kube-apiserver", "m1", "master")
    lab.wait_for("apiserver ready", lambda: lab.raw_get("/readyz", cert=False)[0] == 200, timeout=40)
    lab.start("kube-controller-manager", "m1", "master", hostpath_provisioner_dir=os.path.join(lab.tmp, "hostpath"))
    lab.start("kube-scheduler", "m1", "master")
    # the trap for a power-on gate: with every kubelet still off, the nodes read Ready (stale status
    # from before the power-off) and only the heartbeat times tell
    time.sleep(2)
    assert all(node_ready(lab, n) == "True" for n in ("w1", "w2"))
    for n in ("w1", "w2"):
        renew = lab.kjson("get", "lease", "-n", "kube-node-lease", n)["spec"]["renewTime"]
        assert harness.rfc3339_micro(renew) < stopped
    for n in ("w1", "w2"):
        lab.start("containerd", n)
        lab.start("kubelet", n)
    lab.wait_for("nodes Ready", lambda: all(node_ready(lab, n) == "True" for n in ("w1", "w2")), timeout=30)
    back = lab.wait_for("pod Running again", lambda: (lambda p: p if p and p["status"]["containerStatuses"][0]
                                                      .get("state", {}).get("running") else None)(web_pod(lab)),
                        timeout=40)
    print(f"cluster back (nodes Ready, pod Running) {time.monotonic() - t0:.1f}s after etcd started")
    assert back["metadata"]["uid"] == pod["metadata"]["uid"] and back["spec"]["nodeName"] == node
    assert back["status"]["containerStatuses"][0]["restartCount"] == \
        pod["status"]["containerStatuses"][0]["restartCount"] + 1
    assert lab.kjson("get", "node", other)["spec"]["unschedulable"] is True
    assert "Ready,SchedulingDisabled" in lab.kubectl("get", "node", other).stdout
    lab.kubectl("uncordon", other)


def test_readyz_fails_without_etcd_quorum(lab):
    lab.stop_proc("etcd1")
    assert lab.raw_get("/readyz", cert=False)[0] == 200   # 2 of 3 members: still a quorum
    t0 = time.monotonic()
    lab.stop_proc("etcd2")
    code, body = lab.wait_for("readyz failing", lambda: (lambda r: r if r[0] == 500 else None)(
        lab.raw_get("/readyz?verbose", cert=False)), timeout=20, interval=0.2)
    print(f"readyz failed {time.monotonic() - t0:.1f}s after quorum loss")
    assert "[-]etcd failed: reason withheld" in body and body.strip().endswith("readyz check failed")
    assert lab.kubectl("get", "nodes", check=False, timeout=60).returncode != 0
    lab.start_etcd(1)
    lab.start_etcd(2)
    lab.wait_for("readyz ok again", lambda: lab.raw_get("/readyz", cert=False)[0] == 200, timeout=30)
