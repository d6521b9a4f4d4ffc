"""Real components, as enabled systemd units: Ceph (mon, mgr, osd, mds), etcd with TLS, k8s stand-ins."""
import json

import pytest

from labhelpers import CEPH, ceph_json, kubectl, kubelab_available, with_role

MASTER_UNITS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"]
WORKER_UNITS = ["containerd", "kubelet", "kube-proxy"]


def expected_units(h, host):
    n, roles = h["name"], h["roles"]
    units = []
    units += [f"ceph-mon@{n}"] if "ceph_mon" in roles else []
    units += [f"ceph-mgr@{n}"] if "ceph_mgr" in roles else []
    units += [f"ceph-mds@{n}"] if "ceph_mds" in roles else []
    if "ceph_osd" in roles:
        ids = host.check_output("ls /var/lib/ceph/osd").split()
        assert len(ids) == h["osds"]
        units += [f"ceph-osd@{i.split('-')[1]}" for i in ids]
    units += ["etcd"] if "etcd" in roles else []
    if kubelab_available():
        units += MASTER_UNITS if "k8s_control_plane" in roles else []
        units += [u for u in WORKER_UNITS if u not in units] if "k8s_workers" in roles else []
    return units


def test_units_enabled_and_active(lab, hosts):
    problems = []
    for h in lab["hosts"]:
        host = hosts[h["name"]]
        for u in expected_units(h, host):
            s = host.service(u)
            if not (s.is_enabled and s.is_running):
                problems.append(f"{h['name']}:{u} enabled={s.is_enabled} running={s.is_running}")
        # the targets that start them at boot
        for t in ("ceph.target", "ceph-mon.target", "ceph-osd.target", "ceph-mgr.target", "ceph-mds.target"):
            if any(r.startswith("ceph_") for r in h["roles"]) and not host.service(t).is_enabled:
                problems.append(f"{h['name']}:{t} not enabled")
    assert not problems, problems


def test_ceph_health_ok(mon):
    st = ceph_json(mon, "status")
    assert st["health"]["status"] == "HEALTH_OK", st["health"]
    assert st["osdmap"]["num_up_osds"] == st["osdmap"]["num_osds"] > 0
    pg = ceph_json(mon, "pg stat")
    assert pg["pg_ready"]
    assert [s["name"] for s in pg["pg_summary"]["num_pg_by_state"]] == ["active+clean"]


def test_cephfs_and_rbd_pool(lab, mon):
    fs = ceph_json(mon, "fs ls")
    assert [f["name"] for f in fs] == ["cephfs"]
    assert fs[0]["metadata_pool"] == "cephfs_metadata" and fs[0]["data_pools"] == ["cephfs_data"]
    pools = {p["pool_name"]: p for p in ceph_json(mon, "osd pool ls detail")}
    assert "rbd" in pools["rbd"]["application_metadata"]


def test_mds_active_and_standby(lab, mon):
    fsd = ceph_json(mon, "fs dump")
    info = fsd["filesystems"][0]["mdsmap"]["info"].values()
    assert [i["state"] for i in info] == ["up:active"]
    n_mds = len(with_role(lab, "ceph_mds"))
    assert len(fsd["standbys"]) == n_mds - 1


def test_admin_keyring_mode(lab, hosts):
    for name in with_role(lab, "ceph_mon"):
        f = hosts[name].file("/etc/ceph/ceph.client.admin.keyring")
        assert f.mode == 0o600 and f.user == "root"


def test_ceph_data_roundtrip_over_rados(mon):
    r = mon.run(f"head -c 1M /dev/urandom > /root/obj && sha256sum < /root/obj && "
                f"timeout 60 rados --rados_osd_op_timeout=20 -p rbd put labtest-obj /root/obj && "
                f"timeout 60 rados --rados_osd_op_timeout=20 -p rbd get labtest-obj - | sha256sum")
    assert r.rc == 0, r.stderr
    a, b = r.stdout.split("\n")[:2]
    assert a == b


def test_etcd_cluster_healthy_with_tls(lab, hosts):
    members = with_role(lab, "etcd")
    if not members:
        pytest.skip("no etcd")
    h = hosts[members[0]]
    r = h.run(". /etc/profile.d/etcdctl.sh; etcdctl endpoint health -w json")
    assert r.rc == 0, r.stderr
    health = json.loads(r.stdout)
    assert len(health) == len(members) and all(e["health"] for e in health)
    r = h.run(". /etc/profile.d/etcdctl.sh; etcdctl member list -w json")
    assert len(json.loads(r.stdout)["members"]) == len(members)
    # client certificate authentication is enforced: a client without cert is rejected
    r = h.run(". /etc/profile.d/etcdctl.sh; unset ETCDCTL_CERT ETCDCTL_KEY; "
              "etcdctl --dial-timeout=3s --command-timeout=5s endpoint health")
    assert r.rc != 0
    for m in members:
        assert hosts[m].file("/etc/etcd/pki/server.key").mode == 0o600


def test_kubelab_config_contract(lab, hosts):
    for h in lab["hosts"]:
        if not ({"k8s_control_plane", "k8s_workers"} & set(h["roles"])):
            continue
        f = hosts[h["name"]].file("/etc/kubelab/config.json")
        assert f.mode == 0o600
        cfg = json.loads(f.content_string)
        assert cfg["node_name"] == h["name"] and cfg["node_ip"] == h["ip"]
        for k in ("etcd_endpoints", "etcd_ca", "ca_cert", "apiserver_endpoints", "kubeconfig", "ceph_conf",
                  "ceph_keyring", "ceph_user", "cephfs_name", "rbd_pool"):
            assert k in cfg, k
        for k in ("etcd_ca", "ca_cert", "kubeconfig", "ceph_conf", "ceph_keyring"):
            assert hosts[h["name"]].file(cfg[k]).exists, cfg[k]


@pytest.mark.skipif(not kubelab_available(), reason="k8s stand-ins (lab/k8s/units) not there yet")
def test_kubectl_nodes_ready(lab):
    data = json.loads(kubectl("get", "nodes", "-o", "json").stdout)
    ready = {n["metadata"]["name"] for n in data["items"]
             if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])}
    want = {h["name"] for h in lab["hosts"] if "k8s_workers" in h["roles"]}  # masters run no kubelet
    assert want <= ready
    kubectl("get", "nodes", "-o", "wide")
    kubectl("get", "pvc", "-A")
