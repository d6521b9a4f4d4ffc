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
  - Without O(since_epoch) or O(since), "up" is trusted only while V(nodown) is not set; with V(nodown) set the
    gate waits and says why.
  - An OSD "up" without that evidence is asked itself with C(ceph tell osd.N status) (not more often than every
    15 seconds while it does not answer). It counts if it says V(active) (it runs; its host did not reboot). It is
    stuck if it says V(booting) - measured on the lab after a hard power loss - it rebooted with the address the map
    still shows "up", so the mons took its boot for a duplicate and it waits; see O(on_stuck_booting).
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
  sample:
    epoch: 93
    flags: [noout, sortbitwise]
    osds: [{id: 0, host: ceph1, up: true, in: true, up_from: 88, fresh: true}]
    num_expected: 1
    num_up: 1
    num_fresh: 1
    num_in: 1
    stuck_booting: []
marked_down:
  description: Ids of the OSDs marked down because they were stuck booting (in check mode, those it would mark down).
  returned: always
  type: list
  elements: int
  sample: [2]
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import (
    CephCommandError, ceph_argument_spec, cli_from_module, parse_ceph_time)
from ansible_collections.blackstart.cluster.plugins.module_utils._ceph_gates import osd_observation
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
    again after ``quiet`` seconds."""

    def __init__(self, ask, quiet=15.0, clock=time.monotonic):
        self.ask = ask
        self.quiet = quiet
        self.clock = clock
        self.silent_since = {}

    def __call__(self, osd_id):
        last = self.silent_since.get(osd_id)
        if last is not None and self.clock() - last < self.quiet:
            return None
        state = self.ask(osd_id)
        if state is None:
            self.silent_since[osd_id] = self.clock()
        else:
            self.silent_since.pop(osd_id, None)
        return state


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
        obs = osd_observation(dump, hosts, module.params['osds'], module.params['since_epoch'], since,
                              epoch_time, module.params['require_in'], daemon_state=daemon_state)
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
