# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fault matrix (issue 8): each scenario breaks a power cycle the way real ones break, then asserts the end
state - healthy, or a named refusal that changed nothing -, the data checksums, the exact diagnosis, and that
nothing we set was left set. The operator's own flag (noscrub) and cordon (the last worker) must survive every
scenario."""

from __future__ import annotations

import pytest

import faultlab as fl

OPERATOR_FLAG = 'noscrub'


def operator_marks():
    """Set what an operator set before the power cycle: a flag and a cordon that blackstart must leave alone."""
    fl.ssh(fl.live_mon(), *(fl.CEPH + ['osd', 'set', OPERATOR_FLAG]))
    worker = fl.hosts_with('k8s_workers')[-1]
    fl.kubectl('cordon', worker)
    return worker


def assert_clean_end(worker, checks_before):
    """Healthy again, only the operator's flag and cordon left, the record retired, the data intact."""
    assert fl.osd_flags() == [OPERATOR_FLAG], 'flags left set: %s' % fl.osd_flags()
    assert fl.cordoned() == [worker], 'cordons left: %s' % fl.cordoned()
    assert not fl.record_path().exists(), 'the record was not retired: %s' % fl.record()
    assert_data_intact(checks_before)


def assert_data_intact(checks_before):
    """Every volume checked before verifies again, with the same checksums."""
    after = fl.verify_volumes()
    assert all(rc == 0 for rc, _said in after.values()), after
    assert sorted(after) == sorted(checks_before)


def checksums():
    before = fl.verify_volumes()
    assert before and all(rc == 0 for rc, _said in before.values()), before
    return before


@pytest.mark.tier
def test_a_typo_and_a_wrong_value_are_refused_before_any_host_is_touched(fresh):
    run = fl.play('power_off', {'ceph_osd_activaton': 'lvm'})
    assert run.rc != 0
    assert 'ceph_osd_activaton (did you mean ceph_osd_activation?)' in run.output
    run = fl.play('power_off', {'ceph_osd_activation': 'lvmm'})
    assert run.rc != 0
    assert "ceph_osd_activation" in run.output and 'lvmm' in run.output
    run = fl.play('power_on', {'blackstart_absent_hosts': ['ceph9']})
    assert run.rc != 0 and 'blackstart_absent_hosts names ceph9, not a host of the cycle' in run.output
    for r in (run,):
        assert 'Drain and stop' not in r.output
    assert not fl.record_path().exists()
    assert fl.osd_flags() == [] and fl.cordoned() == []
    assert fl.healthy() is None


def test_power_off_killed_after_the_flags_then_power_on_undoes_exactly_what_was_done(fresh):
    worker = operator_marks()
    before = checksums()
    run = fl.play('power_off', kill_after=r'TASK \[blackstart\.cluster\.ceph : Set the OSD flags', tag='killed')
    assert run.killed, 'the kill point was never reached; log %s' % run.log
    rec = fl.record()
    # written ahead: the flags and cordons are in the record even though the run never reached its own save
    assert set(rec['ceph']['flags_set']) == {'noout', 'norecover', 'norebalance', 'nobackfill'}, rec
    assert OPERATOR_FLAG not in rec['ceph']['flags_set']
    assert rec['workers']['cordoned'] == [fl.hosts_with('k8s_workers')[0]], rec
    assert worker in rec['workers']['already_unschedulable']
    run = fl.play('power_on', tag='after-kill')
    assert run.ok(), run.log
    fl.wait_healthy(300, allow=['OSDMAP_FLAGS'])
    assert_clean_end(worker, before)


@pytest.mark.tier
def test_power_off_killed_in_the_control_plane_then_rerun_resumes_with_the_workers_off(fresh):
    worker = operator_marks()
    before = checksums()
    run = fl.play('power_off', kill_after=r'Record that the control plane is stopping', tag='killed')
    assert run.killed, run.log
    workers = fl.hosts_with('k8s_workers')
    assert not any(fl.running(w) for w in workers), 'the workers should be off before the control plane stage'
    run = fl.play('power_off', tag='resumed')
    assert run.ok(), run.log
    assert 'RESUMING the power-off' in run.output
    for w in workers:
        assert '%s: off (recorded by an earlier run)' % w in run.output
    snapshots = [e for e in fl.record()['events'] if e['what'].startswith('etcd snapshot ')]
    assert len(snapshots) == 1, 'the resumed run took another snapshot: %s' % snapshots
    assert not any(fl.running(h) for h in fl.all_hosts())
    rec = fl.record()
    assert rec['power_off']['completed'] and len(rec['power_off']['runs']) == 2
    run = fl.play('power_on', tag='after-resume')
    assert run.ok(), run.log
    fl.wait_healthy(300, allow=['OSDMAP_FLAGS'])
    assert_clean_end(worker, before)


def lab_power_commands(dead=()):
    """The lab's command backend, with the hosts in ``dead`` never coming back (their 'on' does nothing)."""
    power = str(fl.POWER)
    on = "{{ '/bin/true' if inventory_hostname in %s else '%s on ' ~ inventory_hostname }}" % (list(dead), power)
    return {'on': on, 'off': power + ' off {{ inventory_hostname }}', 'kill': power + ' kill {{ inventory_hostname }}',
            'status': power + ' status {{ inventory_hostname }}'}


PENDING_PVC = '''
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: fault-pending, namespace: ci}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: no-such-class
  resources: {requests: {storage: 1Gi}}
'''


@pytest.mark.tier
def test_an_osd_down_and_out_and_a_pvc_pending_before_power_off_are_reported_not_waited_for(fresh, tmp_path):
    manifest = tmp_path / 'pending.yaml'
    manifest.write_text(PENDING_PVC)
    host = fl.hosts_with('ceph_osd')[-1]
    osd = int(fl.ssh(host, 'ls /var/lib/ceph/osd').stdout.split()[0].split('-')[1])
    before = checksums()
    fl.ssh(host, 'systemctl disable --now ceph-osd@%d' % osd)
    fl.ssh(fl.live_mon(), *(fl.CEPH + ['osd', 'out', str(osd)]))
    fl.wait_until_ceph(lambda: osd in [o['osd'] for o in fl.ceph('osd', 'dump')['osds'] if not o['up']], 120)
    fl.kubectl('apply', '-f', str(manifest))
    try:
        run = fl.play('power_off')
        assert run.ok(), run.log
        base = fl.record()['baseline']
        assert osd in base['ceph']['osds_down'] and osd in base['ceph']['osds_out'], base
        # an OSD down and OUT raises no OSD_DOWN (that counts down OSDs still in): its PGs stay degraded
        assert 'PG_DEGRADED' in base['ceph']['health_checks'] and base['ceph']['pgs_clean'] is False, base
        assert 'ci/fault-pending' in base['kubernetes']['pvcs_not_bound'], base
        run = fl.play('power_on')
        assert run.ok(), run.log
        broken = run.output.split('broken before the power-off, not waited for:')[-1].splitlines()[0]
        assert 'osd.%d' % osd in broken and 'ci/fault-pending' in broken and 'PG_DEGRADED' in broken, broken
        # the dead OSD was left as it was: not started, not enabled
        assert fl.ssh(host, 'systemctl is-enabled ceph-osd@%d' % osd, check=False).stdout.strip() == 'disabled'
        up = [o['osd'] for o in fl.ceph('osd', 'dump')['osds'] if o['up']]
        assert osd not in up and len(up) == len(fl.ceph('osd', 'dump')['osds']) - 1
        assert fl.osd_flags() == [] and fl.cordoned() == []
        assert_data_intact(before)
        assert not fl.record_path().exists()
    finally:
        fl.kubectl('delete', '-f', str(manifest), '--wait=false', check=False)
        if not fl.running(host):  # a failure half-way may have left the cluster off: power_on brings it back
            fl.play('power_on', tag='recover')
        fl.ssh(host, 'systemctl enable --now ceph-osd@%d' % osd, check=False)
        fl.ssh(fl.live_mon(), *(fl.CEPH + ['osd', 'in', str(osd)]), check=False)
    fl.wait_healthy(600)


@pytest.mark.tier
def test_hosts_that_never_return_stop_power_on_then_absent_hosts_bring_up_the_rest_degraded(fresh):
    """ceph3 (a mon and OSD host) and master3 (an etcd member and apiserver) never come back after a power-off.
    Each stage stops at the host that did not return, naming it and the variable with every host to declare;
    two mon hosts declared absent is refused at once (quorum impossible); with both declared, the rest comes up:
    mon quorum 2/3, etcd 2/3 members with a leader, data intact, the record kept until the hosts return."""
    before = checksums()
    dead_ceph, dead_master = fl.hosts_with('ceph_osd')[-1], fl.hosts_with('etcd')[-1]
    live_masters = [m for m in fl.hosts_with('etcd') if m != dead_master]
    run = fl.play('power_off')
    assert run.ok(), run.log
    commands = lab_power_commands(dead=[dead_ceph, dead_master])
    run = fl.play('power_on', {'blackstart_power_commands': commands, 'power_on_timeout': 45}, tag='dead')
    assert run.rc != 0
    assert '%s did not come back' % dead_ceph in run.output, run.log
    assert '"blackstart_absent_hosts": ["%s"]' % dead_ceph in run.output, run.log
    for other in fl.all_hosts():
        assert other == dead_ceph or '%s did not come back' % other not in run.output, 'a host that came back was blamed'
    assert not any(fl.running(h) for h in fl.hosts_with('etcd') + fl.hosts_with('k8s_workers')), \
        'a later stage was started after a Ceph host did not return'
    # two mon hosts declared absent: quorum impossible, said at once, nothing else done
    run = fl.play('power_on', {'blackstart_power_commands': commands,
                               'blackstart_absent_hosts': fl.hosts_with('ceph_mon')[1:]}, tag='two-mons')
    assert run.rc != 0 and 'quorum impossible' in run.output, run.log
    # the Ceph host declared: Ceph comes up without it, then the control plane stops at the etcd member that is lost
    run = fl.play('power_on', {'blackstart_power_commands': commands, 'blackstart_absent_hosts': [dead_ceph],
                               'power_on_timeout': 45}, tag='dead-master')
    assert run.rc != 0
    assert '%s did not come back' % dead_master in run.output, run.log
    assert '"blackstart_absent_hosts": ["%s", "%s"]' % (dead_ceph, dead_master) in run.output, run.log
    assert not any(fl.running(w) for w in fl.hosts_with('k8s_workers')), 'the workers were started without etcd'
    run = fl.play('power_on', {'blackstart_power_commands': commands,
                               'blackstart_absent_hosts': [dead_ceph, dead_master]}, tag='degraded')
    assert run.ok(), run.log
    assert 'DEGRADED' in run.output and 'record kept, still to undo' in run.output
    assert not fl.running(dead_ceph) and not fl.running(dead_master)
    assert fl.osd_flags() == [] and fl.cordoned() == []
    quorum = fl.ceph('quorum_status')['quorum_names']
    assert dead_ceph not in quorum and len(quorum) == 2
    health = fl.etcd_health(live_masters[0])
    assert sorted(health.values()) == [False, True, True], health
    assert not any(ok for ep, ok in health.items() if fl.ip_of(dead_master) in ep), health
    assert_data_intact(before)
    assert fl.record_path().exists() and {dead_ceph, dead_master} <= set(fl.record()['hosts_off'])
    # the hosts are repaired: a plain power_on finishes the cycle and retires the record
    run = fl.play('power_on', tag='repaired')
    assert run.ok(), run.log
    fl.wait_healthy(300)
    health = fl.etcd_health(dead_master)
    assert len(health) == 3 and all(health.values()), health
    assert not fl.record_path().exists()


def test_power_off_with_a_host_already_dead_is_refused_then_absent_hosts_powers_off_the_rest(fresh):
    """ceph3 died before the maintenance: power_off refuses before touching any host, naming it and the variable;
    declared absent, the rest is powered off in order; once repaired, a plain power_on brings everything back."""
    before = checksums()
    dead = fl.hosts_with('ceph_osd')[-1]
    fl.power('kill', dead)
    try:
        run = fl.play('power_off', tag='dead-unnamed')
        assert run.rc != 0 and dead in run.output and 'blackstart_absent_hosts' in run.output, run.log
        assert 'Drain and stop' not in run.output and not fl.record_path().exists(), run.log
        assert all(fl.running(h) for h in fl.all_hosts() if h != dead)
        assert fl.osd_flags() == [] and fl.cordoned() == []
        run = fl.play('power_off', {'blackstart_absent_hosts': [dead]}, tag='absent')
        assert run.ok(), run.log
        assert not any(fl.running(h) for h in fl.all_hosts())
        assert dead in fl.record().get('absent_hosts', []), fl.record()
        # the host is repaired while the cluster is off: a plain power_on brings every host back
        run = fl.play('power_on', tag='all-back')
        assert run.ok(), run.log
    finally:
        if not fl.running(dead):
            fl.power('on', dead)
    fl.wait_healthy(600)
    assert fl.osd_flags() == [] and fl.cordoned() == []
    assert_data_intact(before)


def test_power_off_killed_as_the_drain_starts_then_power_on_uncordons_what_was_recorded(fresh):
    worker = operator_marks()
    before = checksums()
    run = fl.play('power_off', kill_after=r'TASK \[blackstart\.cluster\.state : Record cordoning', tag='killed')
    assert run.killed, run.log
    rec = fl.record()
    assert rec['workers']['cordoned'] == [fl.hosts_with('k8s_workers')[0]] and 'flags_set' not in rec.get('ceph', {})
    run = fl.play('power_on', tag='after-kill')
    assert run.ok(), run.log
    fl.wait_healthy(300, allow=['OSDMAP_FLAGS'])
    assert_clean_end(worker, before)
