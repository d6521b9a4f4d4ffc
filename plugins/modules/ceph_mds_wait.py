#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ceph_mds_wait
short_description: Wait until every rank of the CephFS filesystems is active
version_added: 0.1.0
description:
  - Reads C(ceph fs dump) until every rank of every named filesystem is C(up:active), the filesystems are
    joinable and not down, and at least O(min_standby) standby MDS daemons wait.
  - Believes an active rank only once the monitors' quorum is older than O(beacon_grace) - restarted mons
    show an MDS that died with the power as up:active until that long without its beacon.
  - Says what is wrong in terms an operator can act on - a failed rank with no MDS to take it, a damaged rank,
    a filesystem left down or not joinable by a power-off, a rank stuck in replay because the V(pause) flag
    is set (read from C(ceph osd dump) only then) or because PGs are not active (read from C(ceph pg stat) only
    then; it cannot read its journal from them).
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.ceph
  - blackstart.cluster.wait
options:
  filesystems:
    description:
      - Names of the filesystems to wait for. Default is every filesystem.
      - A name that does not exist fails at once, listing the filesystems there are.
    type: list
    elements: str
  min_standby:
    description:
      - How many standby MDS daemons must also be waiting.
    type: int
    default: 0
  beacon_grace:
    description:
      - The cluster's C(mds_beacon_grace) in seconds. An up:active rank counts only once the quorum (C(quorum_age) of
        C(ceph quorum_status)) is at least this old. V(0) turns the check off.
    type: float
    default: 15
'''

EXAMPLES = r'''
- name: Wait until CephFS is served again
  blackstart.cluster.ceph_mds_wait:
    filesystems: [cephfs]
    timeout: 300

- name: Also want a standby ready to take over
  blackstart.cluster.ceph_mds_wait:
    min_standby: 1
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
  description: The last FSMap seen.
  returned: always
  type: dict
  contains:
    filesystems:
      description:
        - One entry per filesystem waited for - name, max_mds, joinable, active (all ranks up:active),
          ranks (rank to "daemon state"), failed, damaged, standby_replay.
      type: list
      elements: dict
    standbys:
      description: The standby MDS daemons.
      type: list
      elements: str
    pause:
      description: Whether the pause flag was seen set (only read while a rank is in replay).
      type: bool
  sample:
    filesystems: [{name: cephfs, max_mds: 1, joinable: true, active: true, ranks: {'0': 'b up:active'}, failed: [], damaged: [], standby_replay: []}]
    standbys: [a]
    pause: false
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import (
    CephCommandError, ceph_argument_spec, cli_from_module)
from ansible_collections.blackstart.cluster.plugins.module_utils._ceph_gates import (
    mds_needs_flags, mds_needs_quorum_age, mds_observation)
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import gate_argument_spec, run_gate


def replay_pgs(cli):
    """The PG states, read only to explain a rank in replay; a mgr that does not answer leaves it unexplained."""
    try:
        return cli.pg_stat()
    except CephCommandError:
        return None


def main():
    argument_spec = ceph_argument_spec()
    argument_spec.update(gate_argument_spec())
    argument_spec.update(
        filesystems=dict(type='list', elements='str'),
        min_standby=dict(type='int', default=0),
        beacon_grace=dict(type='float', default=15.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    cli = cli_from_module(module)

    def check():
        fsmap = cli.fs_dump()
        in_replay = mds_needs_flags(fsmap)
        flags = cli.osd_dump()['flags'] if in_replay else None
        grace = module.params['beacon_grace']
        age = cli.quorum_status()['age'] if grace > 0 and mds_needs_quorum_age(fsmap) else None
        return mds_observation(fsmap, module.params['filesystems'], module.params['min_standby'], flags, age, grace,
                               pgs=replay_pgs(cli) if in_replay else None)

    run_gate(module, 'CephFS MDS', check)


if __name__ == '__main__':
    main()
