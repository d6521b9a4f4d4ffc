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
    waiting through that and, on timeout, names the monitors it was waiting for.
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
      description: The expected monitors not in the quorum.
      type: list
      elements: str
  sample: {mons: [a, b, c], quorum: [a, b], leader: a, out_of_quorum: [c]}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import (
    CephTransientError, ceph_argument_spec, cli_from_module)
from ansible_collections.blackstart.cluster.plugins.module_utils._ceph_gates import (
    no_quorum_missing, quorum_observation)
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import (
    TransientError, gate_argument_spec, run_gate)


def main():
    argument_spec = ceph_argument_spec()
    argument_spec.update(gate_argument_spec())
    argument_spec.update(
        mons=dict(type='list', elements='str'),
        min_mons=dict(type='int'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params['min_mons'] is not None and module.params['min_mons'] < 1:
        module.fail_json(msg='min_mons must be at least 1')
    cli = cli_from_module(module)

    def check():
        try:
            quorum = cli.quorum_status()
        except CephTransientError as exc:
            raise TransientError(no_quorum_missing(module.params['mons'], exc))
        return quorum_observation(quorum, module.params['mons'], module.params['min_mons'])

    run_gate(module, 'Ceph mon quorum', check)


if __name__ == '__main__':
    main()
