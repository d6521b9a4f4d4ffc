"""The /etc/kubelab/config.json contract (see README "Config contract")."""
import json

DEFAULTS = {
    "role": "worker",
    "etcd_endpoints": [],
    "apiserver_endpoints": ["https://127.0.0.1:6443"],
    "bind_address": "0.0.0.0",
    "secure_port": 6443,
    "etcd_timeout_seconds": 2.0,
    "etcd_prefix": "/registry",
    "ceph_conf": "/etc/ceph/ceph.conf",
    "ceph_keyring": "/etc/ceph/ceph.client.admin.keyring",
    "ceph_user": "admin",
    "cephfs_name": "cephfs",
    "cephfs_subvolume_group": "csi",
    "rbd_pool": "rbd",
    "ceph_timeout_seconds": 30,
    "node_status_update_seconds": 5,
    "node_monitor_grace_seconds": 40,
    "node_monitor_period_seconds": 5,
    "pod_eviction_timeout_seconds": 300,
    "leader_lease_seconds": 15,
    "sync_period_seconds": 2,
    "mount_backoff_initial_seconds": 2,
    "mount_backoff_max_seconds": 30,
    "crash_backoff_initial_seconds": 10,
    "crash_backoff_max_seconds": 60,
    "containerd_socket": "/run/containerd/containerd.sock",
    "containerd_kill_grace_seconds": 10,
    "kubelet_root": "/var/lib/kubelab",
    "pod_log_dir": "/var/log/pods",
    "mount_namespace": True,
}


class ConfigError(Exception):
    pass


def load(path):
    try:
        with open(path) as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    cfg = dict(DEFAULTS)
    cfg.update(data)
    for key in ("node_name",):
        if not cfg.get(key):
            raise ConfigError(f"config {path}: missing key {key!r}")
    return cfg
