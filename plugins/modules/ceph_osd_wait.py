#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ceph_osd_wait
short_description: Wait until every expected Ceph OSD is up and in, with fresh evidence its daemon runs
version_added: 0.1.0
description:
  - Reads C(ceph osd dump) (and C(ceph osd tree) once, for each OSD's host) until every expected OSD is up and in.
  - The OSD map lies in two cases measured on Ceph 16.2 - with the V(nodown) flag set stopped OSDs stay "up",
    and after a whole-cluster hard power loss nobody marks the dead OSDs down for 15 minutes. So an OSD counts
    only when it booted after a reference point - O(since_epoch) (an OSD map epoch recorded before the OSDs
    were stopped; blackstart's power-off stores it) or O(since) (a time, such as the mon host's boot time).
  - Without O(since_epoch) or O(since) the map alone is never evidence (a gate must not pass while the daemons are
    not running) - every OSD "up" in the map is asked itself, as below.
  - An OSD "up" without that evidence is asked itself with C(ceph tell osd.N status) (falling back to C(version)
    before Nautilus; not more often than every 15 seconds while it does not answer, and once per life - per
    C(up_from) - once it answered V(active)). It counts if it says V(active) (it runs; its host did not reboot). It
    does not if it does not answer (its daemon is not running). It is stuck if it says V(booting) - measured on the
    lab after a hard power loss - it rebooted with the address the map still shows "up", so the mons took its boot
    for a duplicate and it waits; see O(on_stuck_booting).
  - Without O(since_epoch) or O(since) the daemons are asked together, 8 at a time (a daemon that does not answer
    costs O(cli_timeout)).
  - O(expect_down) and O(absent_hosts) name OSDs that may stay down and out (they were so before the power-off, or
    their host is not coming back). They are not waited on; they are listed in RV(state.expected_down), described
    in RV(state.degraded) and in the message.
  - RV(state.down) and RV(state.out) list the OSDs the map shows down and out, whatever was asked; run once in
    check mode with O(timeout=0) before a power-off, they are the baseline to pass as O(expect_down) afterwards.
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.ceph
  - blackstart.cluster.wait
attributes:
  check_mode:
    support: full
    details: Evaluated once without waiting; with O(on_stuck_booting=mark_down) it returns the OSDs it would mark down in RV(marked_down).
  idempotent:
    support: partial
    details: Only reads, unless O(on_stuck_booting=mark_down) finds an OSD stuck booting.
options:
  osds:
    description:
      - The OSD ids that must be up. Default is every OSD that exists in the map.
      - An id not in the map fails at once.
    type: list
    elements: int
  since_epoch:
    description:
      - An OSD map epoch. An OSD counts as running only if it was marked up after this epoch (its C(up_from) is greater).
    type: int
  since:
    description:
      - A time, as seconds since the epoch or an ISO 8601 string (V(2026-11-25T13:00:00Z)). An OSD counts as
        running only if the OSD map epoch that marked it up was written at or after this time (read with
        C(ceph osd dump <epoch>), once per epoch). Use the boot time of a mon host, whose clock stamped the maps.
    type: str
  on_stuck_booting:
    description:
      - What to do about an OSD whose daemon says it is still booting while the map shows an earlier life of it
        "up" (see the description).
      - V(report) ends the gate at once, failed, with the ids in RV(state.stuck_booting), so that the caller
        restarts those daemons on their hosts; a new process boots with a new address and is marked up afresh.
        This is what the ceph role does.
      - V(mark_down) runs C(ceph osd down N) once per OSD and keeps waiting. The daemon sends its boot again only
        when its monitor session reconnects (about 2.5 minutes on the lab).
      - V(wait) only names them.
    type: str
    choices: [wait, mark_down, report]
    default: wait
  require_in:
    description:
      - Also require every expected OSD to be "in".
    type: bool
    default: true
  expect_down:
    description:
      - OSD ids allowed to be down and/or out - typically RV(state.down) and RV(state.out) of a check-mode run before
        the power-off. They are not waited on and are reported in RV(state.expected_down) and RV(state.degraded).
      - An id that is no longer in the OSD map is left out.
    type: list
    elements: int
    default: []
  absent_hosts:
    description:
      - Hosts known not to come back. Every OSD whose CRUSH host (from C(ceph osd tree)) is one of them is expected
        down, as with O(expect_down). Names match exactly or by their short name (V(ceph3.example.com) matches the
        CRUSH host V(ceph3)).
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: After a planned power-off, wait for every OSD to have booted since the epoch recorded then
  blackstart.cluster.ceph_osd_wait:
    since_epoch: "{{ blackstart_state.ceph.osdmap_epoch }}"
    timeout: 600

- name: After an outage, count only OSDs that came up after the first mon host booted
  blackstart.cluster.ceph_osd_wait:
    since: "{{ ansible_facts.date_time.epoch | int - ansible_facts.uptime_seconds }}"

- name: After an outage, end at once if an OSD is stuck booting behind a stale "up" (restart it, then wait again)
  blackstart.cluster.ceph_osd_wait:
    since: "{{ mon_host_boot_time }}"
    on_stuck_booting: report
  register: osd_gate

- name: Wait for two OSDs only
  blackstart.cluster.ceph_osd_wait:
    osds: [3, 4]

- name: Before the power-off, record which OSDs are already down or out (evaluated once, never waits)
  blackstart.cluster.ceph_osd_wait:
    timeout: 0
  check_mode: true
  register: osd_baseline

- name: After the power-on, wait for the others; the host ceph3 is not coming back
  blackstart.cluster.ceph_osd_wait:
    since_epoch: "{{ blackstart_state.ceph.osdmap_epoch }}"
    expect_down: "{{ (osd_baseline.state.down + osd_baseline.state.out) | unique }}"
    absent_hosts: [ceph3]
'''

RETURN = r'''
ready:
  description: Whether the gate passed. Always V(true) on success outside check mode.
  returned: always
  type: bool
  sample: true
elapsed:
  description: Seconds from the first check to the last, on a monotonic clock.
  returned: always
  type: float
  sample: 4.21
attempts:
  description: How many times the state was read.
  returned: always
  type: int
  sample: 7
missing:
  description: One sentence per thing not ready at the last check, naming it, why and what to do. Empty when ready.
  returned: always
  type: list
  elements: str
transient_errors:
  description: The last few distinct errors that were retried (the CLI timed out, no quorum, connection refused).
  returned: always
  type: list
  elements: str
  sample: ['`ceph ... quorum_status --format json` failed (rc=1): timed out. The monitors did not answer in time: ...']
transient_count:
  description: How many checks ended in a retried error.
  returned: always
  type: int
  sample: 3
state:
  description: The last OSD map seen.
  returned: always
  type: dict
  contains:
    epoch:
      description: The OSD map epoch.
      type: int
    flags:
      description: The OSD map flags.
      type: list
      elements: str
    osds:
      description:
        - One entry per expected OSD - id, host, up, in, up_from, fresh (up and booted after the reference point),
          daemon_state (what C(ceph tell osd.N status) said when the map alone was not evidence, else null).
      type: list
      elements: dict
    stuck_booting:
      description: Ids of OSDs whose daemon runs but is stuck booting behind a stale "up" in the map.
      type: list
      elements: int
    num_expected:
      description: How many OSDs were expected.
      type: int
    num_up:
      description: How many of them the map says are up.
      type: int
    num_fresh:
      description: How many are up with fresh evidence.
      type: int
    num_in:
      description: How many are in.
      type: int
    expected_down:
      description: Ids of the OSDs allowed to stay down or out (O(expect_down), and the OSDs of O(absent_hosts)); not waited on.
      type: list
      elements: int
    degraded:
      description: One sentence per expected-down OSD - its state now and why it is not waited on.
      type: list
      elements: str
    down:
      description: Ids of every OSD the map shows down (all OSDs of the map, not only the expected ones).
      type: list
      elements: int
    out:
      description: Ids of every OSD the map shows out.
      type: list
      elements: int
    not_running:
      description: Ids of the expected OSDs "up" in the map whose daemon did not answer (not running).
      type: list
      elements: int
  sample:
    epoch: 93
    flags: [noout, sortbitwise]
    osds: [{id: 0, host: ceph1, up: true, in: true, up_from: 88, fresh: true}]
    num_expected: 1
    num_up: 1
    num_fresh: 1
    num_in: 1
    stuck_booting: []
    expected_down: [5]
    degraded: ['osd.5 on ceph3 is down and out, not waited on: its host ceph3 is absent']
    down: [5]
    out: [5]
    not_running: []
marked_down:
  description: Ids of the OSDs marked down because they were stuck booting (in check mode, those it would mark down).
  returned: always
  type: list
  elements: int
  sample: [2]
'''

import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import (
    CephCommandError, ceph_argument_spec, cli_from_module, parse_ceph_time)
from ansible_collections.blackstart.cluster.plugins.module_utils._ceph_gates import (
    expected_down_reasons, osd_observation)
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import GateError, gate_argument_spec, run_gate


class StuckBooting(GateError):
    """Ends the gate at once: restarting the stuck daemons (on their hosts) is the caller's job."""

    def __init__(self, obs):
        super(StuckBooting, self).__init__(
            'Ceph OSDs: stuck booting, restart their daemons: ' + '; '.join(
                m for m in obs.missing if 'stuck booting' in m))
        self.obs = obs

    def details(self):
        return dict(ready=False, state=self.obs.state, missing=self.obs.missing)


class QuietDaemons(object):
    """Asks an OSD daemon its state, but a daemon that did not answer (each silence costs the op timeout) only
    again after ``quiet`` seconds, and one that said it serves not again in the same life (same ``up_from``).

    :meth:`ask_all` asks many at once (``workers`` at a time): after a hard power loss every silent daemon costs the
    CLI timeout, and asked one after the other 30 of them would hold one check for 5 minutes.
    """

    def __init__(self, ask, quiet=15.0, clock=time.monotonic, workers=8):
        self.ask = ask
        self.quiet = quiet
        self.clock = clock
        self.workers = workers
        self.silent_since = {}
        self.serving = {}
        self.answers = {}

    def _due(self, osd_id, up_from):
        if up_from is not None and self.serving.get(osd_id) == up_from:
            return False
        last = self.silent_since.get(osd_id)
        return last is None or self.clock() - last >= self.quiet

    def _record(self, osd_id, up_from, state):
        if state is None:
            self.silent_since[osd_id] = self.clock()
        else:
            self.silent_since.pop(osd_id, None)
            if state == 'active' and up_from is not None:
                self.serving[osd_id] = up_from
        return state

    def ask_all(self, up_from):
        """Ask, at once, every daemon of ``up_from`` ({id: up_from}) that is due; the answers are used by the next
        calls (each answer once)."""
        self.answers.clear()
        due = [i for i in sorted(up_from) if self._due(i, up_from[i])]
        if len(due) < 2:
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, len(due))) as pool:
            answers = list(pool.map(self.ask, due))
        for osd_id, state in zip(due, answers):
            self.answers[osd_id] = self._record(osd_id, up_from[osd_id], state)

    def __call__(self, osd_id, up_from=None):
        if osd_id in self.answers:
            return self.answers.pop(osd_id)
        if up_from is not None and self.serving.get(osd_id) == up_from:
            return 'active'
        if not self._due(osd_id, up_from):
            return None
        return self._record(osd_id, up_from, self.ask(osd_id))


def parse_since(value):
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return parse_ceph_time(value)


def main():
    argument_spec = ceph_argument_spec()
    argument_spec.update(gate_argument_spec())
    argument_spec.update(
        osds=dict(type='list', elements='int'),
        since_epoch=dict(type='int'),
        since=dict(type='str'),
        require_in=dict(type='bool', default=True),
        on_stuck_booting=dict(type='str', default='wait', choices=['wait', 'mark_down', 'report']),
        expect_down=dict(type='list', elements='int', default=[]),
        absent_hosts=dict(type='list', elements='str', default=[]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[('since', 'since_epoch')])
    try:
        since = parse_since(module.params['since'])
    except ValueError as exc:
        module.fail_json(msg='since: %s; give seconds since the epoch or an ISO 8601 time' % exc)
    cli = cli_from_module(module)
    hosts = {}
    epoch_times = {}

    def epoch_time(epoch):
        # Maps are immutable: one read per epoch. A trimmed (very old) epoch cannot be fresh.
        if epoch not in epoch_times:
            try:
                epoch_times[epoch] = cli.osd_dump(epoch)['modified']
            except CephCommandError as exc:
                if 'ENOENT' not in exc.stderr and 'does not exist' not in exc.stderr:
                    raise
                epoch_times[epoch] = None
        return epoch_times[epoch]

    daemon_state = QuietDaemons(cli.osd_daemon_state)
    repair = dict(marked_down=[], changed=False)

    def check():
        dump = cli.osd_dump()
        if not hosts or any(o['id'] not in hosts for o in dump['osds']):
            hosts.update(cli.osd_tree())
        up_from = dict((o['id'], o['up_from']) for o in dump['osds'])
        if module.params['since_epoch'] is None and since is None:
            # Every OSD "up" in the map will be asked: ask them together.
            wanted = set(module.params['osds'] or up_from)
            wanted -= set(expected_down_reasons(wanted, hosts, module.params['expect_down'], module.params['absent_hosts']))
            daemon_state.ask_all(dict((o['id'], o['up_from']) for o in dump['osds']
                                      if o['up'] and o['exists'] and o['id'] in wanted))
        obs = osd_observation(dump, hosts, module.params['osds'], module.params['since_epoch'], since,
                              epoch_time, module.params['require_in'],
                              daemon_state=lambda osd_id: daemon_state(osd_id, up_from.get(osd_id)),
                              expect_down=module.params['expect_down'], absent_hosts=module.params['absent_hosts'])
        if obs.state['degraded']:
            repair['note'] = 'degraded (not waited on): ' + '; '.join(obs.state['degraded'])
        if module.params['on_stuck_booting'] == 'report' and obs.state['stuck_booting'] and not module.check_mode:
            raise StuckBooting(obs)
        if module.params['on_stuck_booting'] == 'mark_down':
            for osd_id in obs.state['stuck_booting']:
                if osd_id in repair['marked_down']:
                    continue
                if not module.check_mode:
                    cli.osd_down(osd_id)
                repair['marked_down'].append(osd_id)
                repair['changed'] = True
                repair['done'] = '%s down (stuck booting): osd.%s' % (
                    'would mark' if module.check_mode else 'marked', ', osd.'.join(str(i) for i in repair['marked_down']))
        return obs

    run_gate(module, 'Ceph OSDs', check, extra=repair)


if __name__ == '__main__':
    main()
