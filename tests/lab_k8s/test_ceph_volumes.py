"""Volumes against a real local Ceph (tests/lab_k8s/minceph.sh): CephFS via
ceph-fuse, RBD via rbd-fuse + fuse2fs, the no-MDS FailedMount / Pending PVC
symptoms and recovery.  Runs only when KUBELAB_CEPH_DIR names a running
minceph directory (make -f lab/k8s/k8s.mk lab-k8s-ceph-test does that)."""
import os
import subprocess
import sys
import time

import pytest

import harness

CEPH_DIR = os.environ.get("KUBELAB_CEPH_DIR", "")
MINCEPH = os.path.join(harness.HERE, "minceph.sh")
VERIFY = os.path.join(harness.REPO, "lab", "k8s", "bin", "verify-volume")
MANIFESTS = os.path.join(harness.REPO, "lab", "k8s", "manifests")


def _ceph_reason():
    if not CEPH_DIR or not os.path.isfile(os.path.join(CEPH_DIR, "ceph.conf")):
        return "KUBELAB_CEPH_DIR not set to a running minceph dir (see lab/k8s/README.md)"
    for binary in ("ceph-fuse", "rbd-fuse", "fuse2fs"):
        if not subprocess.run(["which", binary], capture_output=True).returncode == 0:
            return f"{binary} not installed"
    return harness.prerequisites()


pytestmark = [pytest.mark.ceph, pytest.mark.skipif(_ceph_reason() is not None, reason=_ceph_reason() or "")]


def manifests(tmp):
    text = []
    for name in sorted(os.listdir(MANIFESTS)):
        with open(os.path.join(MANIFESTS, name)) as fh:
            text.append(fh.read())
    out = "\n---\n".join(text)
    # host paths of this machine instead of the lab hosts' ones
    out = out.replace("/opt/kubelab", os.path.join(harness.REPO, "lab", "k8s", "kubelab"))
    out = out.replace("/var/jenkins_home", os.path.join(tmp, "mnt", "jenkins")).replace(
        '"/storage"', '"' + os.path.join(tmp, "mnt", "storage") + '"').replace(
        "mountPath: /storage", "mountPath: " + os.path.join(tmp, "mnt", "storage"))
    return out


@pytest.fixture(scope="module")
def lab():
    tmp = harness.make_tmp("ceph")
    lab = harness.Lab(tmp, harness.find_kubectl())
    ceph = {"ceph_conf": os.path.join(CEPH_DIR, "ceph.conf"), "ceph_keyring": os.path.join(CEPH_DIR, "keyring"),
            "ceph_user": "admin", "mount_backoff_max_seconds": 6, "provision_backoff_max_seconds": 6}
    try:
        lab.start_etcd_cluster()
        lab.start("kube-apiserver", "m1", "master")
        lab.wait_for("apiserver ready", lambda: lab.raw_get("/readyz", cert=False)[0] == 200, timeout=40)
        lab.start("kube-controller-manager", "m1", "master", **ceph)
        lab.start("kube-scheduler", "m1", "master")
        for node in ("w1", "w2"):
            lab.start("containerd", node, **ceph)
            lab.start("kubelet", node, **ceph)
        lab.ceph = ceph
        yield lab
    finally:
        subprocess.run([MINCEPH, "start-mds", CEPH_DIR], capture_output=True)
        for ns in ("ci", "registry"):
            lab.kubectl("delete", "deploy", "--all", "-n", ns, "--wait=false", check=False, timeout=30)
        lab.wait_for("pods gone", lambda: not lab.kjson("get", "pods", "-A")["items"], timeout=60)
        lab.stop()
        harness.remove_tmp(tmp)


def running(lab, ns, app):
    pods = [p for p in lab.kjson("get", "pods", "-n", ns, "-l", f"app={app}")["items"]
            if not p["metadata"].get("deletionTimestamp")]
    return pods[0] if len(pods) == 1 and pods[0]["status"].get("phase") == "Running" else None


def verify(lab, *args):
    cfg = lab.config("w1", "worker", "verify", **lab.ceph)
    return subprocess.run([sys.executable, VERIFY, "--config", cfg, *args], capture_output=True, text=True,
                          timeout=120)


def events(lab, ns, reason):
    return [e for e in lab.kjson("get", "events", "-n", ns)["items"] if e["reason"] == reason]


def test_workloads_bind_mount_and_write(lab):
    lab.kubectl("apply", "-f", "-", input=manifests(lab.tmp))
    for ns, claim in (("ci", "jenkins-home"), ("registry", "harbor-registry")):
        lab.wait_for(f"{claim} Bound", lambda: lab.kjson("get", "pvc", "-n", ns, claim)["status"]["phase"] == "Bound",
                     timeout=60)
    for ns, app in (("ci", "jenkins"), ("registry", "harbor")):
        lab.wait_for(f"{app} Running", lambda: running(lab, ns, app), timeout=90)
    for ns, claim in (("ci", "jenkins-home"), ("registry", "harbor-registry")):
        pv = lab.kjson("get", "pvc", "-n", ns, claim)["spec"]["volumeName"]
        res = lab.wait_for(f"{claim} verified", lambda: (lambda r: r if r.returncode == 0 else None)(
            verify(lab, "--pv", pv)), timeout=60, interval=2)
        assert "OK" in res.stdout
    pv = lab.kjson("get", "pvc", "-n", "ci", "jenkins-home")["spec"]["volumeName"]
    attrs = lab.kjson("get", "pv", pv)["spec"]["csi"]["volumeAttributes"]
    assert attrs["subvolumePath"].startswith("/volumes/csi/")


def test_rbd_pod_moves_with_its_data(lab):
    pod = lab.wait_for("harbor Running", lambda: running(lab, "registry", "harbor"), timeout=30)
    src = pod["spec"]["nodeName"]
    lab.kubectl("drain", src, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s", timeout=120)
    new = lab.wait_for("harbor moved", lambda: (lambda p: p if p and p["spec"]["nodeName"] != src else None)(
        running(lab, "registry", "harbor")), timeout=90)
    lab.kubectl("uncordon", src)
    logs = os.path.join(lab.tmp, new["spec"]["nodeName"], "pods-logs")
    lab.wait_for("harbor re-verified its data", lambda: any(
        "verify ok: 16 files" in open(os.path.join(d, f)).read()
        for d, _, files in os.walk(logs) for f in files if new["metadata"]["uid"] in d), timeout=30)


def test_no_mds_pending_pvc_and_failed_mount_then_recovery(lab):
    lab.wait_for("jenkins Running", lambda: running(lab, "ci", "jenkins"), timeout=30)
    lab.kubectl("patch", "deploy", "jenkins", "-n", "ci", "-p", '{"spec":{"replicas":0}}')
    lab.wait_for("jenkins gone", lambda: not lab.kjson("get", "pods", "-n", "ci")["items"], timeout=60)
    subprocess.run([MINCEPH, "stop-mds", CEPH_DIR], check=True)
    lab.kubectl("apply", "-f", "-", input="""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: probe, namespace: ci}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: cephfs
  resources: {requests: {storage: 100Mi}}
""")
    lab.kubectl("patch", "deploy", "jenkins", "-n", "ci", "-p", '{"spec":{"replicas":1}}')
    failed = lab.wait_for("FailedMount x2", lambda: [e for e in events(lab, "ci", "FailedMount")
                                                    if e.get("count", 1) >= 2], timeout=90)
    ev = failed[0]
    assert ev["type"] == "Warning" and ev["involvedObject"]["kind"] == "Pod"
    assert "probably no MDS server is up?" in ev["message"], ev["message"]
    pod = lab.kjson("get", "pods", "-n", "ci", "-l", "app=jenkins")["items"][0]
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    assert "ContainerCreating" in lab.kubectl("get", "pods", "-n", "ci").stdout
    assert lab.kjson("get", "pvc", "-n", "ci", "probe")["status"]["phase"] == "Pending"
    pf = lab.wait_for("ProvisioningFailed", lambda: events(lab, "ci", "ProvisioningFailed"), timeout=30)
    assert "no active MDS" in pf[0]["message"]
    t0 = time.monotonic()
    subprocess.run([MINCEPH, "start-mds", CEPH_DIR], check=True)
    lab.wait_for("jenkins recovers", lambda: running(lab, "ci", "jenkins"), timeout=90)
    lab.wait_for("probe Bound", lambda: lab.kjson("get", "pvc", "-n", "ci", "probe")["status"]["phase"] == "Bound",
                 timeout=60)
    print(f"recovered {time.monotonic() - t0:.1f}s after the MDS was started")


def test_rbd_data_lives_in_the_image(lab):
    pv = lab.kjson("get", "pvc", "-n", "registry", "harbor-registry")["spec"]["volumeName"]
    lab.kubectl("patch", "deploy", "harbor", "-n", "registry", "-p", '{"spec":{"replicas":0}}')
    lab.wait_for("harbor gone", lambda: not lab.kjson("get", "pods", "-n", "registry")["items"], timeout=60)
    res = verify(lab, "--rbd-image", f"rbd/{pv}")
    assert res.returncode == 0 and "OK" in res.stdout, res.stdout + res.stderr
