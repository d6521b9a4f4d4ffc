"""Power control as a BMC gives it: clean off / on and hard kill / on of one host; its daemons come back."""
import json
import time

from labhelpers import ceph_json, power, wait_until, with_role


def _ceph_healthy(mon, n_mds):
    st = ceph_json(mon, "status")
    fsd = ceph_json(mon, "fs dump")
    active = [i for i in fsd["filesystems"][0]["mdsmap"]["info"].values() if i["state"] == "up:active"]
    pg = ceph_json(mon, "pg stat")
    ok = (st["health"]["status"] == "HEALTH_OK" and st["osdmap"]["num_up_osds"] == st["osdmap"]["num_osds"]
          and len(active) == 1 and len(fsd["standbys"]) == n_mds - 1 and pg["pg_ready"]
          and [s["name"] for s in pg["pg_summary"]["num_pg_by_state"]] == ["active+clean"])
    return ok or (st["health"], [i["state"] for i in active])


def test_clean_power_cycle_of_a_ceph_host_keeps_data(lab, hosts, mon):
    target = with_role(lab, "ceph_osd")[-1]
    h = hosts[target]
    r = mon.run("head -c 4M /dev/urandom > /root/pc && sha256sum < /root/pc > /root/pc.sum && "
                "timeout 60 rados --rados_osd_op_timeout=20 -p rbd put labtest-pc /root/pc")
    assert r.rc == 0, r.stderr
    before = mon.check_output("cat /root/pc.sum")
    marker = f"before-poweroff-{int(time.time())}"
    h.run(f"logger -t labtest {marker}")
    p = power("off", target)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"{target}: powered off (clean")
    assert power("status", target).stdout.strip() == f"{target}: stopped"
    t = time.monotonic()
    p = power("on", target)
    assert p.returncode == 0 and p.stdout.strip() == f"{target}: powered on", p.stderr
    wait_until("ssh after power on", lambda: h.run("true").rc == 0, 60, 1)
    n_mds = len(with_role(lab, "ceph_mds"))
    r = wait_until("ceph healthy after power on", lambda: _ceph_healthy(mon, n_mds) is True, 240, 3)
    assert r
    print(f"{target}: HEALTH_OK {time.monotonic() - t:.0f}s after power on")
    # enabled units started by themselves at boot, nothing else did it
    for u in h.check_output("systemctl list-units --plain --no-legend 'ceph-*@*' | awk '{print $1}'").split():
        assert h.service(u).is_running, u
    after = mon.check_output("timeout 60 rados --rados_osd_op_timeout=20 -p rbd get labtest-pc - | sha256sum")
    assert after == before
    # the journal survives the power cycle: the units' stop times can be read afterwards. (The boot ID is
    # the build machine's kernel's, the same for every host and power cycle, so --list-boots shows one boot.)
    assert h.run(f"journalctl --no-pager -t labtest | grep -q {marker}").rc == 0
    assert h.run("journalctl --no-pager | grep -q 'Stopped ceph-osd@'").rc == 0


def test_hard_kill_and_power_on_of_a_master(lab, hosts):
    masters = with_role(lab, "etcd")
    if not masters:
        return
    target = masters[-1]
    p = power("kill", target)
    assert p.returncode == 0 and p.stdout.strip() == f"{target}: killed (hard power loss)", p.stderr
    assert power("status", target).stdout.strip() == f"{target}: stopped"
    assert power("kill", target).stdout.strip() == f"{target}: already stopped"
    assert power("on", target).returncode == 0
    h = hosts[target]
    wait_until("ssh after power on", lambda: h.run("true").rc == 0, 60, 1)

    def etcd_ok():
        r = h.run(". /etc/profile.d/etcdctl.sh; etcdctl endpoint health -w json")
        return r.rc == 0 and all(e["health"] for e in json.loads(r.stdout))
    wait_until("etcd healthy after hard power loss", etcd_ok, 120, 2)
    assert h.service("etcd").is_enabled and h.service("etcd").is_running
