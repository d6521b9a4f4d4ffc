# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""k8s_storage_wait against a real throw-away Ceph (tests/lab_k8s/minceph.sh: 1 mon, 1 mgr, 1 OSD, 1 MDS on
loopback) and the kubelab kubelet that mounts CephFS with the real ceph-fuse: MDS stopped -> the gate names the
pod, its node and the real mount error; MDS back -> delete_stuck_pods recreates the pod and the gate passes.

Set BS_CAPTURE=1 to also record the pods/events/PVCs JSON the real kubectl printed into
tests/unit/fixtures/k8s/lab (the unit tests use them)."""
import json
import os
import shutil
import subprocess
import time

import pytest

import harness
from conftest import Gates, node_ready, prerequisites

MINCEPH = os.path.join(harness.HERE, "minceph.sh")
MANIFESTS = os.path.join(harness.REPO, "lab", "k8s", "manifests")
CAPTURE = os.environ.get("BS_CAPTURE") == "1"
OUT = os.path.join(harness.REPO, "tests", "unit", "fixtures", "k8s", "lab")


def ceph_missing():
    for b in ("ceph-mon", "ceph-mgr", "ceph-osd", "ceph-mds", "ceph", "ceph-fuse"):
        if not shutil.which(b):
            return "%s not installed (the Ceph half of this test needs ceph-mon ceph-mgr ceph-osd ceph-mds " \
                   "ceph-common ceph-fuse)" % b
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse missing (ceph-fuse mounts need it)"
    return prerequisites()


pytestmark = pytest.mark.skipif(ceph_missing() is not None, reason=ceph_missing() or "")


def manifest(tmp):
    text = []
    for name in ("00-namespaces.yaml", "10-storageclasses.yaml", "20-jenkins.yaml"):
        with open(os.path.join(MANIFESTS, name)) as fh:
            text.append(fh.read())
    out = "\n---\n".join(text)
    out = out.replace("/opt/kubelab", os.path.join(harness.REPO, "lab", "k8s", "kubelab"))
    return out.replace("/var/jenkins_home", os.path.join(tmp, "mnt", "jenkins"))


@pytest.fixture(scope="module")
def ceph_lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bs-ceph")
    cdir = str(tmp / "ceph")
    port = harness.free_ports(1)[0]
    res = subprocess.run([MINCEPH, "start", cdir, str(port)], check=False, capture_output=True, text=True, timeout=180)
    if res.returncode != 0:
        subprocess.run([MINCEPH, "stop", cdir], check=False, capture_output=True, timeout=60)
        pytest.skip("minceph did not start: %s" % (res.stderr or res.stdout)[-300:])
    lab = harness.Lab(tmp, harness.find_kubectl())
    ceph = {"ceph_conf": os.path.join(cdir, "ceph.conf"), "ceph_keyring": os.path.join(cdir, "keyring"),
            "ceph_user": "admin", "mount_backoff_max_seconds": 30, "provision_backoff_max_seconds": 6}
    lab.cdir = cdir
    try:
        lab.start_etcd_cluster()
        lab.start("kube-apiserver", "m1", "master")
        lab.wait_for("apiserver ready", lambda: lab.raw_get("/readyz", cert=False)[0] == 200, timeout=40)
        lab.start("kube-controller-manager", "m1", "master", **ceph)
        lab.start("kube-scheduler", "m1", "master")
        for node in ("w1", "w2"):
            lab.start("containerd", node, **ceph)
            lab.start("kubelet", node, **ceph)
        lab.wait_for("nodes Ready", lambda: all(node_ready(lab, n) == "True" for n in ("w1", "w2")), timeout=40)
        yield lab
    finally:
        subprocess.run([MINCEPH, "start-mds", cdir], check=False, capture_output=True, timeout=60)
        lab.kubectl("delete", "deploy", "--all", "-n", "ci", "--wait=false", check=False, timeout=30)
        lab.kubectl("delete", "pods", "--all", "-n", "ci", "--grace-period=1", "--wait=false", check=False, timeout=30)
        try:
            lab.wait_for("pods gone", lambda: not lab.kjson("get", "pods", "-A")["items"], timeout=60)
        except AssertionError:
            pass
        lab.stop()
        subprocess.run([MINCEPH, "stop", cdir], check=False, capture_output=True, timeout=120)


def jenkins_pods(lab):
    return [p for p in lab.kjson("get", "pods", "-n", "ci", "-l", "app=jenkins")["items"]
            if not p["metadata"].get("deletionTimestamp")]


def record(lab, name, *args):
    res = lab.kubectl(*args, "-o", "json", check=False)
    with open(os.path.join(OUT, name + ".json"), "w") as fh:
        json.dump({"argv": ["kubectl", "--kubeconfig", "/TMP/admin.kubeconfig", *args, "-o", "json"],
                   "rc": res.returncode, "stdout": res.stdout.replace(lab.tmp, "/TMP"),
                   "stderr": res.stderr.replace(lab.tmp, "/TMP")}, fh, indent=1)


def test_mds_stopped_storage_gate_names_pod_and_mount_error_then_recreates_it(ceph_lab):
    lab = ceph_lab
    gates = Gates(lab)
    lab.kubectl("apply", "-f", "-", input=manifest(lab.tmp))
    r = gates.k8s("k8s_storage_wait", storage_classes=["cephfs"], grace=60, timeout=120)
    assert r["ready"] and r["state"]["pvcs_bound"] == 1, r
    lab.wait_for("jenkins Running", lambda: [p for p in jenkins_pods(lab) if p["status"].get("phase") == "Running"],
                 timeout=90)
    # Power-off order: the pod goes (its CephFS session closes) before the MDS stops.
    lab.kubectl("patch", "deploy", "jenkins", "-n", "ci", "-p", '{"spec":{"replicas":0}}')
    lab.wait_for("jenkins gone", lambda: not lab.kjson("get", "pods", "-n", "ci")["items"], timeout=60)
    subprocess.run([MINCEPH, "stop-mds", lab.cdir], check=True, timeout=60)
    # Power-on with the MDS still down: the new pod cannot mount.
    lab.kubectl("patch", "deploy", "jenkins", "-n", "ci", "-p", '{"spec":{"replicas":1}}')
    t0 = time.monotonic()
    lab.wait_for("FailedMount", lambda: [e for e in lab.kjson("get", "events", "-n", "ci")["items"]
                                         if e["reason"] == "FailedMount"], timeout=90)
    r = gates.k8s("k8s_storage_wait", storage_classes=["cephfs"], grace=3, timeout=4)
    took = time.monotonic() - t0
    assert not r["ready"] and not r["changed"] and r["deleted_pods"] == [], r
    assert r["state"]["pvcs_bound"] == 1, "the claim stays Bound while the MDS is down: Bound proves nothing"
    (stuck,) = r["state"]["stuck_pods"]
    pod = stuck["name"]
    assert stuck["how"] == "ContainerCreating" and stuck["reason"] == "FailedMount", stuck
    text = [m for m in r["missing"] if m.startswith("pod ci/%s on %s stuck ContainerCreating" % (pod, stuck["node"]))]
    assert stuck["past_grace"]
    assert text and "FailedMount: MountVolume.MountDevice failed for volume" in text[0] and \
        "probably no MDS server is up?" in text[0], r["missing"]
    print("storage gate named %s (%s) %.0fs after the pod was created: %s" % (pod, stuck["node"], took, text[0][:160]))
    if CAPTURE:
        record(lab, "pods_failed_mount", "get", "pods", "--all-namespaces")
        record(lab, "events_failed_mount", "get", "events", "--all-namespaces", "--field-selector", "type=Warning")
        record(lab, "pvc_bound", "get", "persistentvolumeclaims", "--all-namespaces")
    # MDS back: the claim was Bound all along, so delete_stuck_pods recreates the stuck pod at once.
    subprocess.run([MINCEPH, "start-mds", lab.cdir], check=True, timeout=60)
    t1 = time.monotonic()
    r = gates.k8s("k8s_storage_wait", storage_classes=["cephfs"], grace=3, timeout=120, delete_stuck_pods=True)
    assert r["ready"], r
    if r["changed"]:
        assert r["deleted_pods"] == ["ci/%s" % pod], r
    lab.wait_for("jenkins Running again", lambda: [p for p in jenkins_pods(lab)
                                                   if p["status"].get("phase") == "Running"], timeout=90)
    print("after the MDS started: gate passed in %.1fs, deleted %s; jenkins Running %.1fs after MDS start"
          % (r["elapsed"], r["deleted_pods"], time.monotonic() - t1))
