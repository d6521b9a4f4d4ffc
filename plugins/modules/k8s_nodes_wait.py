#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: k8s_nodes_wait
short_description: Wait until the expected Kubernetes nodes are registered and Ready
version_added: 0.1.0
description:
  - Reads C(kubectl get nodes -o json) until every expected node (by default every registered node) has the
    condition C(Ready=True).
  - Reports each node that is not Ready with the reason and message of its Ready condition, its other conditions
    that are not as they should be, and the age of its last heartbeat, and names a missing expected node
    (C(node worker-02 not registered)).
  - The heartbeat is the newer of the Ready condition's C(lastHeartbeatTime) and the C(renewTime) of the node's
    Lease in C(kube-node-lease) (read with C(kubectl get leases)); a kubelet renews its Lease every 10 s but posts
    an unchanged status only every 5 minutes. Without permission to read Leases, the condition alone is used.
  - A node whose kubelet stopped keeps C(Ready=True) until the node controller notices, after
    C(node-monitor-grace-period) (40 s by default); a node seen Ready just after a power-on may therefore be the
    old status. Give O(min_heartbeat_after) to only trust heartbeats posted after a given time.
  - A cordoned node counts as Ready (cordoning is scheduling, not health); it is listed in RV(state.unschedulable).
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.kubectl
  - blackstart.cluster.wait
options:
  nodes:
    description:
      - The node names that must be Ready. Default is every registered node.
      - A name that is not registered is reported and waited for (its kubelet may register it late).
    type: list
    elements: str
  min_heartbeat_after:
    description:
      - Epoch seconds (for example the time the power came back, V({{ ansible_date_time.epoch }}) of an earlier
        task). A node counts as Ready only if its Ready heartbeat is at least this recent, so a status posted before
        the power-off is not taken for a live kubelet. Compared with the clock of the host the task runs on.
    type: float
'''

EXAMPLES = r'''
- name: Wait for every node after power returns
  blackstart.cluster.k8s_nodes_wait:
    timeout: 900
  delegate_to: "{{ groups['k8s_control_plane'][0] }}"
  become: true

- name: Wait for the workers, trusting only heartbeats posted since the power came back
  blackstart.cluster.k8s_nodes_wait:
    nodes: "{{ groups['k8s_workers'] }}"
    min_heartbeat_after: "{{ power_on_epoch }}"
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
  sample: 31.2
attempts:
  description: How many times the nodes were read.
  returned: always
  type: int
  sample: 12
missing:
  description: One sentence per node not Ready at the last check.
  returned: always
  type: list
  elements: str
  sample: ['node worker-01 NotReady (Ready=Unknown); NodeStatusUnknown; Kubelet stopped posting node status.; last heartbeat 52s ago']
transient_errors:
  description: The last few distinct errors that were retried (apiserver unreachable or not ready).
  returned: always
  type: list
  elements: str
transient_count:
  description: How many checks ended in a retried error.
  returned: always
  type: int
  sample: 0
state:
  description: The last view of the expected nodes.
  returned: always
  type: dict
  contains:
    nodes:
      description:
        - Per node; name, registered, ready (the Ready condition's status), unschedulable, reason, message,
          heartbeat_age (seconds since the newer of the status heartbeat and the Lease renewal), lease_age (seconds
          since the Lease renewal, null without a Lease).
      type: list
      elements: dict
    ready:
      description: The expected nodes that are Ready.
      type: list
      elements: str
    not_ready:
      description: The expected nodes that are not.
      type: list
      elements: str
    unschedulable:
      description: The expected nodes that are cordoned.
      type: list
      elements: str
  sample:
    ready: [worker-02]
    not_ready: [worker-01]
    unschedulable: []
    nodes:
      - {name: worker-01, registered: true, ready: Unknown, unschedulable: false, reason: NodeStatusUnknown,
         message: Kubelet stopped posting node status., heartbeat_age: 52, lease_age: 52}
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._k8s import (
    KubectlError, KubectlTransientError, kubectl_argument_spec, kubectl_from_module, with_leases)
from ansible_collections.blackstart.cluster.plugins.module_utils._k8s_gates import nodes_observation
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import gate_argument_spec, run_gate


def stale_to_unknown(nodes, after):
    """Treat a Ready=True whose heartbeat predates ``after`` as not proven."""
    for node in nodes:
        ready = node['conditions'].get('Ready')
        if node['ready'] == 'True' and ready and (ready['last_heartbeat'] or 0) < after:
            node['ready'] = 'Stale'
            ready['reason'] = 'HeartbeatBeforePowerOn'
            ready['message'] = 'Ready=True, but its last heartbeat predates min_heartbeat_after'
    return nodes


def make_check(cli, expected=None, min_heartbeat_after=None, clock=None):
    lease_access = []  # set to False once reading the Leases is refused: not asked again

    def check():
        nodes = cli.nodes()
        leases = {}
        if not lease_access or lease_access[0]:
            try:
                leases = cli.node_leases()
                lease_access[:] = [True]
            except KubectlTransientError:
                raise
            except KubectlError:
                lease_access[:] = [False]  # no permission, or a cluster without node Leases: status only
        nodes = with_leases(nodes, leases)
        if min_heartbeat_after is not None:
            nodes = stale_to_unknown(nodes, min_heartbeat_after)
        return nodes_observation(nodes, expected, now=(clock or time.time)())
    return check


def main():
    argument_spec = kubectl_argument_spec()
    argument_spec.update(gate_argument_spec())
    argument_spec.update(
        nodes=dict(type='list', elements='str'),
        min_heartbeat_after=dict(type='float'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    cli = kubectl_from_module(module)
    run_gate(module, 'Kubernetes nodes',
             make_check(cli, module.params['nodes'], module.params['min_heartbeat_after']))


if __name__ == '__main__':
    main()
