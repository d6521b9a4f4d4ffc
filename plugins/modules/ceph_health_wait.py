#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ceph_health_wait
short_description: Wait until Ceph health is no worse than a given level, optionally with every PG active+clean
version_added: 0.1.0
description:
  - Reads C(ceph health detail) until no health check worse than O(status) is left, once the codes in
    O(ignore_checks) and muted checks are set aside.
  - With O(pg_clean=true) also reads C(ceph pg stat) (a mgr command) and waits until the mgr has fresh PG
    statistics (C(pg_ready)) and every PG is active+clean - right after OSDs start, or right after pools are
    created, health can say HEALTH_OK while PGs are still unknown.
  - With O(pg_active=true) it waits, the same way, until every PG is active only.
  - RV(state.raised) lists every health check raised; run once in check mode with O(timeout=0) before a power-off,
    it is the baseline of checks to pass as O(ignore_checks) afterwards.
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.ceph
  - blackstart.cluster.wait
options:
  status:
    description:
      - The worst health level accepted.
    type: str
    choices: [HEALTH_OK, HEALTH_WARN]
    default: HEALTH_OK
  ignore_checks:
    description:
      - Health check codes to set aside, such as V(OSDMAP_FLAGS) while maintenance flags are still set.
    type: list
    elements: str
    default: []
  pg_clean:
    description:
      - Also require every placement group to be active+clean, from fresh mgr statistics.
    type: bool
    default: false
  pg_active:
    description:
      - Also require every placement group to be active (serving I/O), clean or not - undersized, degraded or
        recovering PGs pass; peering, stale, unknown, down or incomplete ones do not - from fresh mgr statistics.
      - For a cluster whose PGs were not all clean before the power-off. O(pg_clean=true) is stricter and wins.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: The end of a Ceph power-on - HEALTH_OK and every PG clean
  blackstart.cluster.ceph_health_wait:
    pg_clean: true
    timeout: 900

- name: Before unsetting the flags - healthy apart from the flags themselves
  blackstart.cluster.ceph_health_wait:
    ignore_checks: [OSDMAP_FLAGS]
    pg_clean: true

- name: Record the checks already raised before the power-off (evaluated once, never waits)
  blackstart.cluster.ceph_health_wait:
    timeout: 0
  check_mode: true
  register: health_baseline

- name: After the power-on - no new check, every PG active (some were not clean before)
  blackstart.cluster.ceph_health_wait:
    ignore_checks: "{{ health_baseline.state.raised }}"
    pg_active: true
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
  description: The last health seen.
  returned: always
  type: dict
  contains:
    status:
      description: The overall status Ceph reported.
      type: str
    checks:
      description: Each health check code with its severity and summary.
      type: dict
    ignored:
      description: The checks present that were set aside.
      type: list
      elements: str
    raised:
      description: The codes of every check raised (ignored and muted ones included), sorted.
      type: list
      elements: str
    pgs:
      description: With O(pg_clean) or O(pg_active), pg_ready, num_pgs and the count of PGs in each state.
      type: dict
      returned: when O(pg_clean=true) or O(pg_active=true)
  sample:
    status: HEALTH_WARN
    checks: {OSDMAP_FLAGS: {severity: HEALTH_WARN, summary: noout flag(s) set}}
    ignored: [OSDMAP_FLAGS]
    raised: [OSDMAP_FLAGS]
    pgs: {pg_ready: true, num_pgs: 25, by_state: {active+clean: 25}}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import ceph_argument_spec, cli_from_module
from ansible_collections.blackstart.cluster.plugins.module_utils._ceph_gates import health_observation
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import gate_argument_spec, run_gate


def main():
    argument_spec = ceph_argument_spec()
    argument_spec.update(gate_argument_spec())
    argument_spec.update(
        status=dict(type='str', choices=['HEALTH_OK', 'HEALTH_WARN'], default='HEALTH_OK'),
        ignore_checks=dict(type='list', elements='str', default=[]),
        pg_clean=dict(type='bool', default=False),
        pg_active=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    cli = cli_from_module(module)

    def check():
        health = cli.health_detail()
        pg = cli.pg_stat() if p['pg_clean'] or p['pg_active'] else None
        return health_observation(health, p['status'], p['ignore_checks'], pg,
                                  pg_want='clean' if p['pg_clean'] else 'active')

    run_gate(module, 'Ceph health', check)


if __name__ == '__main__':
    main()
