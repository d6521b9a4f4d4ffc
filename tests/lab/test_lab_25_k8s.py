"""Kubernetes through the real kubectl: nodes, seeded workloads on CephFS/RBD PVCs, cordon/drain/uncordon."""
import json

import pytest

from labhelpers import kubectl, kubelab_available, wait_until, with_role

pytestmark = pytest.mark.skipif(not kubelab_available(), reason="k8s stand-ins (lab/k8s/units) not there yet")


def _pods():
    return json.loads(kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]


def _all_running():
    pods = _pods()
    return bool(pods) and all(p["status"].get("phase") == "Running" for p in pods) and pods


def test_workloads_running_with_pvcs_bound(lab):
    pvcs = json.loads(kubectl("get", "pvc", "-A", "-o", "json").stdout)["items"]
    classes = {p["spec"]["storageClassName"]: p["status"]["phase"] for p in pvcs}
    assert classes == {"cephfs": "Bound", "rbd": "Bound"}
    assert _all_running()
    out = kubectl("get", "pvc", "-A").stdout
    assert "jenkins-home" in out and "harbor-registry" in out


def test_workload_data_verifies_on_the_worker(lab, hosts):
    for ns, pvc in (("ci", "jenkins-home"), ("registry", "harbor-registry")):
        pv = kubectl("get", "pvc", "-n", ns, pvc, "-o", "jsonpath={.spec.volumeName}").stdout.strip()
        pod = next(p for p in _pods() if p["metadata"]["namespace"] == ns)
        worker = hosts[pod["spec"]["nodeName"]]
        r = wait_until(f"{pvc} data written and verified",
                       lambda: (lambda r: r if r.rc == 0 else None)(worker.run(f"verify-volume --pv {pv}")), 120, 5)
        assert r.rc == 0


def test_cordon_drain_uncordon(lab):
    workers = with_role(lab, "k8s_workers")
    node = workers[0]
    kubectl("cordon", node)
    assert "SchedulingDisabled" in kubectl("get", "node", node).stdout
    p = kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=180s", check=False)
    assert p.returncode == 0, p.stderr
    if len(workers) == 1:
        # nowhere to go: the replacement pods wait for the node to come back
        wait_until("drained pods gone from the node",
                   lambda: not [x for x in _pods() if x["spec"].get("nodeName") == node], 120, 3)
    kubectl("uncordon", node)
    assert "SchedulingDisabled" not in kubectl("get", "node", node).stdout
    wait_until("workloads Running again after uncordon", _all_running, 240, 5)
