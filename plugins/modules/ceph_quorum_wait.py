#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ceph_quorum_wait
short_description: Wait until the expected Ceph monitors form a quorum
version_added: 0.1.0
description:
  - Reads C(ceph quorum_status) until every expected monitor is in the quorum (by default every monitor of the
    monmap), or at least O(min_mons) of them.
  - Without a quorum the C(ceph) CLI cannot answer at all; it times out after O(cli_timeout). The gate keeps
    waiting through that and, on timeout, names the monitors it was waiting for and suggests declaring a host that
    does not answer absent (O(absent_mons); C(blackstart_absent_hosts) in the playbooks).
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.ceph
  - blackstart.cluster.wait
options:
  mons:
    description:
      - The monitor ids that must be in the quorum. Default is every monitor of the monmap.
      - A name not in the monmap fails at once.
    type: list
    elements: str
  min_mons:
    description:
      - Pass when at least this many of the expected monitors are in the quorum, instead of all of them.
    type: int
  absent_mons:
    description:
      - Monitors (mon ids or host names; a host name matches the mon of the same short name) known not to come back.
        They may stay out of the quorum and are reported in RV(state.absent_mons); every other monitor of the monmap
        (or of O(mons)) must be in the quorum.
      - The remaining monitors must be a majority of the monmap, else the gate fails at once naming them - no quorum
        is possible. With O(mons) given (taken as the whole monmap) this is checked before any command runs.
      - Names that are not monitors are ignored (the same list of absent hosts can be passed to every gate).
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Wait up to 10 minutes for all three mons after power returns
  blackstart.cluster.ceph_quorum_wait:
    timeout: 600
  delegate_to: "{{ groups['ceph_mon'][0] }}"

- name: Proceed with a majority (one mon host is known to be dead)
  blackstart.cluster.ceph_quorum_wait:
    mons: [ceph1, ceph2, ceph3]
    min_mons: 2

- name: Proceed without the mon of the host ceph3, which is known not to come back
  blackstart.cluster.ceph_quorum_wait:
    absent_mons: "{{ blackstart_absent_hosts }}"
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
  description: The last quorum seen.
  returned: always
  type: dict
  contains:
    mons:
      description: The monitors of the monmap.
      type: list
      elements: str
    quorum:
      description: The monitors in the quorum.
      type: list
      elements: str
    leader:
      description: The quorum leader.
      type: str
    out_of_quorum:
      description: The expected monitors not in the quorum (the absent ones are not expected).
      type: list
      elements: str
    absent_mons:
      description: The monitors of the monmap that O(absent_mons) declared absent; not waited on.
      type: list
      elements: str
    degraded:
      description: One sentence per absent monitor, saying whether it is in the quorum nonetheless.
      type: list
      elements: str
  sample: {mons: [a, b, c], quorum: [a, b], leader: a, out_of_quorum: [], absent_mons: [c],
           degraded: ['mon.c absent, not waited on (out of quorum)']}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import (
    CephTransientError, ceph_argument_spec, cli_from_module)
from ansible_collections.blackstart.cluster.plugins.module_utils._ceph_gates import (
    no_quorum_missing, quorum_impossible, quorum_observation)
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import (
    TransientError, gate_argument_spec, run_gate)


def main():
    argument_spec = ceph_argument_spec()
    argument_spec.update(gate_argument_spec())
    argument_spec.update(
        mons=dict(type='list', elements='str'),
        min_mons=dict(type='int'),
        absent_mons=dict(type='list', elements='str', default=[]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    if p['min_mons'] is not None and p['min_mons'] < 1:
        module.fail_json(msg='min_mons must be at least 1')
    impossible = quorum_impossible(p['mons'] or [], p['absent_mons'])
    if impossible:
        module.fail_json(msg=str(impossible), ready=False)
    cli = cli_from_module(module)
    note = {}

    def check():
        try:
            quorum = cli.quorum_status()
        except CephTransientError as exc:
            raise TransientError(no_quorum_missing(p['mons'], exc, p['absent_mons']))
        obs = quorum_observation(quorum, p['mons'], p['min_mons'], p['absent_mons'])
        if obs.state['degraded']:
            note['note'] = 'degraded: ' + '; '.join(obs.state['degraded'])
        return obs

    run_gate(module, 'Ceph mon quorum', check, extra=note)


if __name__ == '__main__':
    main()
