"""blackstart lab control: podman hosts running systemd, real Ceph and etcd, lab PKI."""
