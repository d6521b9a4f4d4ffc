#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: k8s_cordon
short_description: Cordon, drain or uncordon Kubernetes nodes, and say which ones this call changed
version_added: 0.1.0
description:
  - Reads the nodes first, then runs the maintained C(kubectl cordon), C(kubectl drain) or C(kubectl uncordon) only
    where something is to do.
  - Returns RV(already_unschedulable), the nodes that were cordoned before this call (by an operator, say), which it
    leaves cordoned, and RV(changed_nodes), the nodes this call cordoned or uncordoned. A power-on passes the
    RV(changed_nodes) of the power-off to O(state=uncordoned), so a node an operator had cordoned stays cordoned.
  - O(state=drained) cordons, then drains every listed node that still has pods C(kubectl drain) would evict
    (including nodes that were already cordoned; they stay out of RV(changed_nodes)). O(drain=false) only cordons
    (for an emergency power-off with no time to move pods).
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.kubectl
attributes:
  check_mode:
    support: full
    details: Predicts RV(changed_nodes), RV(drained_nodes) and RV(already_unschedulable) from the nodes and pods read, and changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A second run finds the nodes as asked (and drained nodes without evictable pods) and changes nothing.
options:
  nodes:
    description:
      - The node names, as C(kubectl get nodes) shows them. A name the cluster does not have fails at once, before anything is changed.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(cordoned) marks the nodes unschedulable; V(drained) also evicts their pods; V(uncordoned) marks them schedulable again.
    type: str
    choices: [cordoned, drained, uncordoned]
    default: drained
  drain:
    description:
      - With O(state=drained), V(false) only cordons (the same as O(state=cordoned)).
    type: bool
    default: true
  ignore_daemonsets:
    description:
      - Pass C(--ignore-daemonsets) to C(kubectl drain) (DaemonSet pods are not evicted; without it drain refuses nodes that run any).
    type: bool
    default: true
  delete_emptydir_data:
    description:
      - Pass C(--delete-emptydir-data) to C(kubectl drain); without it drain refuses pods that use emptyDir volumes.
    type: bool
    default: false
  force:
    description:
      - Pass C(--force) to C(kubectl drain), which then also deletes pods no controller manages (they are not recreated).
    type: bool
    default: false
  grace_period:
    description:
      - Seconds each evicted pod gets to stop (C(--grace-period)). Default is each pod's own terminationGracePeriodSeconds.
    type: int
  drain_timeout:
    description:
      - Seconds C(kubectl drain) may take per node (C(--timeout)); it fails after that, naming the pods it could not evict.
    type: int
    default: 300
  disable_eviction:
    description:
      - Pass C(--disable-eviction) (delete instead of evict, bypassing PodDisruptionBudgets). Only for emergencies.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Power-off; cordon and drain the workers, remembering which ones this run cordoned
  blackstart.cluster.k8s_cordon:
    nodes: "{{ groups['k8s_workers'] }}"
    state: drained
    delete_emptydir_data: true
  delegate_to: "{{ groups['k8s_control_plane'][0] }}"
  become: true
  register: cordon

- name: Keep the list for the power-on
  ansible.builtin.copy:
    content: "{{ cordon.changed_nodes | to_json }}"
    dest: /var/lib/blackstart/cordoned_by_power_off.json
    mode: "0644"
  delegate_to: localhost

- name: Power-on; uncordon only what the power-off cordoned
  blackstart.cluster.k8s_cordon:
    nodes: "{{ lookup('ansible.builtin.file', '/var/lib/blackstart/cordoned_by_power_off.json') | from_json }}"
    state: uncordoned
  when: (lookup('ansible.builtin.file', '/var/lib/blackstart/cordoned_by_power_off.json') | from_json) | length > 0
'''

RETURN = r'''
changed_nodes:
  description: The nodes whose schedulability this call changed (cordoned, or for O(state=uncordoned) uncordoned).
  returned: always
  type: list
  elements: str
  sample: [worker-01, worker-02]
already_unschedulable:
  description: The listed nodes that were cordoned before this call; left cordoned and not in RV(changed_nodes).
  returned: always
  type: list
  elements: str
  sample: [worker-03]
already_schedulable:
  description: With O(state=uncordoned), the listed nodes that were not cordoned.
  returned: always
  type: list
  elements: str
  sample: []
drained_nodes:
  description: The nodes C(kubectl drain) ran on (they had pods to evict).
  returned: always
  type: list
  elements: str
  sample: [worker-01]
commands:
  description: The kubectl commands run (in check mode, that would run), as argument lists.
  returned: always
  type: list
  elements: list
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._k8s import (
    KubectlError, kubectl_argument_spec, kubectl_from_module)
from ansible_collections.blackstart.cluster.plugins.module_utils._k8s_gates import cordon_plan
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import GateError


def main():
    argument_spec = kubectl_argument_spec()
    argument_spec.update(
        nodes=dict(type='list', elements='str', required=True),
        state=dict(type='str', default='drained', choices=['cordoned', 'drained', 'uncordoned']),
        drain=dict(type='bool', default=True),
        ignore_daemonsets=dict(type='bool', default=True),
        delete_emptydir_data=dict(type='bool', default=False),
        force=dict(type='bool', default=False),
        grace_period=dict(type='int'),
        drain_timeout=dict(type='int', default=300),
        disable_eviction=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    wanted = []
    for name in p['nodes']:
        if name and name not in wanted:
            wanted.append(name)
    if not wanted:
        module.exit_json(changed=False, changed_nodes=[], already_unschedulable=[], already_schedulable=[],
                         drained_nodes=[], commands=[], msg='no node listed: nothing to do')
    if p['drain_timeout'] < 1:
        module.fail_json(msg='drain_timeout must be at least 1 second')
    state = p['state']
    if state == 'drained' and not p['drain']:
        state = 'cordoned'
    cli = kubectl_from_module(module)
    out = dict(changed_nodes=[], already_unschedulable=[], already_schedulable=[], drained_nodes=[], commands=[])
    try:
        nodes = cli.nodes()
        pods = cli.pods() if state == 'drained' else []
        plan = cordon_plan(nodes, wanted, state, pods)
        out['already_unschedulable'] = plan['already_unschedulable']
        out['already_schedulable'] = plan['already_schedulable']
        if plan['to_cordon']:
            out['commands'].append(cli.base_argv() + ['cordon'] + plan['to_cordon'])
            if not module.check_mode:
                cli.cordon(plan['to_cordon'])
            out['changed_nodes'] = list(plan['to_cordon'])
        drain_options = dict(ignore_daemonsets=p['ignore_daemonsets'], delete_emptydir_data=p['delete_emptydir_data'],
                             force=p['force'], grace_period=p['grace_period'], drain_timeout=p['drain_timeout'],
                             disable_eviction=p['disable_eviction'])
        for node in plan['to_drain']:
            out['commands'].append(cli.base_argv() + cli.drain_args(node, **drain_options))
            if not module.check_mode:
                cli.drain(node, **drain_options)
            out['drained_nodes'].append(node)
        if plan['to_uncordon']:
            out['commands'].append(cli.base_argv() + ['uncordon'] + plan['to_uncordon'])
            if not module.check_mode:
                cli.uncordon(plan['to_uncordon'])
            out['changed_nodes'] = list(plan['to_uncordon'])
    except GateError as exc:
        details = exc.details() if isinstance(exc, KubectlError) else {}
        # Say what was already done: a failed drain leaves its node cordoned, and the power-on must know.
        module.fail_json(msg=str(exc), changed=bool(out['changed_nodes'] or out['drained_nodes']), **dict(out, **details))
    changed = bool(out['changed_nodes'] or out['drained_nodes'])
    verb = {'cordoned': 'cordoned', 'drained': 'cordoned', 'uncordoned': 'uncordoned'}[state]
    parts = ['%s %s' % (verb, ', '.join(out['changed_nodes'])) if out['changed_nodes'] else 'no node to %s' % verb[:-2]]
    if out['drained_nodes']:
        parts.append('drained %s' % ', '.join(out['drained_nodes']))
    if out['already_unschedulable']:
        parts.append('left alone (already cordoned) %s' % ', '.join(out['already_unschedulable']))
    if module.check_mode and changed:
        parts.insert(0, 'check mode, would have')
    if state == 'cordoned' and p['state'] == 'drained':
        module.warn('drain=false: nodes cordoned only, their pods keep running until the hosts go down')
    module.exit_json(changed=changed, msg='; '.join(parts), **out)


if __name__ == '__main__':
    main()
