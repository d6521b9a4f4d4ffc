"""The lab's hosts: systemd containers with fixed IP and MAC, reached over real SSH and by Ansible."""
import subprocess

import pytest

from labhelpers import INVENTORY, REPO, power


def test_every_host_is_running(lab):
    for h in lab["hosts"]:
        p = power("status", h["name"])
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == f"{h['name']}: running"


def test_power_rejects_unknown_host(lab):
    p = power("status", "no-such-host")
    assert p.returncode != 0
    assert "unknown lab host" in p.stderr


def test_ssh_identity_ip_and_fixed_mac(lab, hosts):
    for h in lab["hosts"]:
        host = hosts[h["name"]]
        assert host.check_output("hostname") == h["name"]
        link = host.check_output("ip -o link show eth0")
        assert h["mac"] in link
        assert f"inet {h['ip']}/" in host.check_output("ip -o -4 addr show eth0")
        # short names of the other lab hosts resolve
        for o in lab["hosts"]:
            assert host.run(f"getent hosts {o['name']}").stdout.split()[0] == o["ip"]


def test_systemd_is_pid1_and_running(lab, hosts):
    for name, host in hosts.items():
        assert host.check_output("cat /proc/1/comm") == "systemd"
        state = host.run("systemctl is-system-running").stdout.strip()
        assert state == "running", f"{name}: {state}: " + host.run("systemctl --failed --no-legend").stdout


def test_persistent_journal_and_quiet_timers(hosts):
    for host in hosts.values():
        assert host.file("/var/log/journal").is_directory
        for u in ("apt-daily.timer", "apt-daily-upgrade.timer", "nvmf-autoconnect.service"):
            assert host.run(f"systemctl is-enabled {u}").stdout.strip() == "masked"


def test_ansible_reaches_every_host_over_ssh(lab):
    p = subprocess.run([str(REPO / ".venv" / "bin" / "ansible"), "-i", str(INVENTORY), "lab", "-m", "ping", "-o"],
                       capture_output=True, text=True, timeout=180, cwd=REPO)
    assert p.returncode == 0, p.stdout + p.stderr
    for h in lab["hosts"]:
        assert f"{h['name']} | SUCCESS" in p.stdout


def test_inventory_groups(lab):
    import yaml
    inv = yaml.safe_load(INVENTORY.read_text())["all"]["children"]
    for h in lab["hosts"]:
        assert inv["lab"]["hosts"][h["name"]]["ansible_host"] == h["ip"]
        for r in h["roles"]:
            assert h["name"] in inv[r]["hosts"]


def test_workers_can_mount_fuse(lab, hosts):
    workers = [h["name"] for h in lab["hosts"] if "k8s_workers" in h["roles"]]
    if not workers:
        pytest.skip("no worker")
    for w in workers:
        h = hosts[w]
        assert h.run("test -c /dev/fuse").rc == 0
        r = h.run("mkdir -p /mnt/labfuse && timeout 60 ceph-fuse -n client.admin /mnt/labfuse && "
                  "echo $(hostname) > /mnt/labfuse/fuse-$(hostname) && cat /mnt/labfuse/fuse-$(hostname); "
                  "rc=$?; umount /mnt/labfuse; exit $rc")
        assert r.rc == 0 and r.stdout.strip() == w, r.stderr
