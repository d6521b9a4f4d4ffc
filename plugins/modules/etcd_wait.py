#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: etcd_wait
short_description: Wait until every expected etcd member is healthy and a leader is elected
version_added: 0.1.0
description:
  - Reads the member list (C(etcdctl member list)) from O(endpoints), then asks every member at the client URL it
    advertises for its health (C(etcdctl endpoint health), a read that needs a leader and a quorum) and status
    (C(etcdctl endpoint status), which says who the leader is), over TLS with the client certificate.
  - Passes when every expected member (by default every member of the member list) is healthy and the members
    that answer agree on one leader.
  - On timeout it names each unhealthy member and the error it gave, for example
    "etcd member master-02 (https://10.0.0.12:2379) unhealthy; context deadline exceeded".
  - When no endpoint of O(endpoints) can list the members (the member asked is itself down, or there is no
    quorum), the members of the last list read in this run are asked directly; before any list was read the gate
    keeps waiting, and says what the health of each endpoint asked was.
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.etcd
  - blackstart.cluster.wait
options:
  members:
    description:
      - The member names (etcd C(--name)) that must be healthy. Default is every member of the member list.
      - A name not in the member list fails at once.
    type: list
    elements: str
'''

EXAMPLES = r'''
- name: Wait for all three etcd members after power returns (asked from the first control-plane host)
  blackstart.cluster.etcd_wait:
    endpoints:
      - https://10.0.0.11:2379
      - https://10.0.0.12:2379
      - https://10.0.0.13:2379
    timeout: 600
  delegate_to: "{{ groups['k8s_control_plane'][0] }}"
  become: true

- name: Proceed as soon as master-01 and master-02 are healthy (master-03 is known dead)
  blackstart.cluster.etcd_wait:
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379]
    members: [master-01, master-02]
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
  sample: ['etcd member master-02 (https://10.0.0.12:2379) unhealthy: context deadline exceeded']
transient_errors:
  description: The last few distinct errors that were retried (no member answered, no leader).
  returned: always
  type: list
  elements: str
transient_count:
  description: How many checks ended in a retried error.
  returned: always
  type: int
  sample: 0
state:
  description: The last view of the members.
  returned: always
  type: dict
  contains:
    members:
      description: One entry per expected member; name, id (hex), endpoint, healthy, error, leader, raft_term, is_leader, version.
      type: list
      elements: dict
    leader:
      description: The name of the leader the members agree on, or null.
      type: str
    healthy:
      description: How many members of the member list are healthy.
      type: int
    total:
      description: How many members the member list has.
      type: int
    quorum:
      description: How many members a quorum needs.
      type: int
    has_quorum:
      description: Whether enough members are healthy and a leader is elected.
      type: bool
    unhealthy:
      description: The expected members that are not healthy.
      type: list
      elements: str
  sample:
    leader: master-01
    healthy: 2
    total: 3
    quorum: 2
    has_quorum: true
    unhealthy: [master-02]
    members:
      - {name: master-02, id: cb8b0d3a0a2b1c4d, endpoint: 'https://10.0.0.12:2379', healthy: false,
         error: context deadline exceeded, leader: null, raft_term: null, is_leader: false, version: null}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._etcd import (
    EtcdError, EtcdTransientError, etcd_argument_spec, etcdctl_from_module)
from ansible_collections.blackstart.cluster.plugins.module_utils._etcd_gates import (
    etcd_observation, member_endpoints, no_member_list_missing)
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import (
    TransientError, gate_argument_spec, run_gate)


def make_check(cli, endpoints, members=None):
    known = []  # the last member list read: when the endpoints asked go down, the other members are still asked

    def check():
        try:
            member_list = cli.member_list(endpoints)
        except EtcdTransientError as exc:
            if not known:
                try:
                    health = cli.endpoint_health(endpoints)
                except EtcdError:
                    health = {}
                raise TransientError(no_member_list_missing(endpoints, exc, health))
            member_list = known[-1]
        else:
            known[:] = [member_list]
        urls = member_endpoints(member_list)
        health = cli.endpoint_health(urls) if urls else {}
        status = cli.endpoint_status(urls) if urls else {}
        return etcd_observation(member_list, health, status, members)
    return check


def main():
    argument_spec = etcd_argument_spec()
    argument_spec.update(gate_argument_spec())
    argument_spec.update(members=dict(type='list', elements='str'))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    cli = etcdctl_from_module(module)
    run_gate(module, 'etcd members', make_check(cli, module.params['endpoints'], module.params['members']))


if __name__ == '__main__':
    main()
