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
  - The nodes are drained concurrently - one C(kubectl drain --timeout) per node, all started together - so the
    whole drain takes about O(drain_timeout) (plus the API round trips), not the number of nodes times it.
  - When the eviction API refuses a pod because of a PodDisruptionBudget, the failure names the pod, its namespace
    and the budget (read with C(kubectl get pdb -A), matched by its selector against the pod's labels) with its
    minAvailable/maxUnavailable and currentHealthy/desiredHealthy/disruptionsAllowed, and says what to do - scale
    the workload, relax the budget, or cordon without draining (O(drain=false), C(blackstart_emergency=true) in the
    playbooks). Those pods are in RV(blocked).
  - While a budget's status lags its spec (the disruption controller of kube-controller-manager has not processed
    its last change, or is not running), the eviction API refuses every pod it covers and C(kubectl drain) reports
    only a timeout; the failure then names the budget, its generation and observedGeneration, and says to check
    kube-controller-manager. Those pods are in RV(blocked) too.
  - Whatever fails, the result still says what this call changed (RV(changed_nodes), RV(already_unschedulable)),
    so that a write-ahead record of the power-off knows which nodes to uncordon.
notes:
  - Why every node is cordoned first and then all are drained together, rather than one node at a time while the
    others stay schedulable - this module is for a whole-cluster power-off, in which every pod is meant to stop. Pods
    evicted from one worker and rescheduled on another worker that is drained next would only be stopped twice, and
    draining in turn adds up the timeouts (300 s per node by default). With every node cordoned the evicted pods of
    a Deployment or StatefulSet stay C(Pending) until the power-on, which is what is wanted. The price - a pod whose
    PodDisruptionBudget needs another replica running elsewhere cannot be evicted at all; the module then says so
    (see RV(blocked)) instead of waiting once per node.
  - To drain for the maintenance of a few nodes while the cluster keeps serving, call the module once per node
    (a loop with O(nodes) of one node), so that each node's pods land on the others.
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
      - Seconds each C(kubectl drain) may take (C(--timeout)); it fails after that, naming the pods it could not evict.
        The nodes are drained at the same time, so this bounds the whole drain.
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
blocked:
  description:
    - The pods a PodDisruptionBudget kept on their node - node, pod, namespace and pdb (the budget's name; several
      are joined with a comma; null when none could be matched).
  returned: always
  type: list
  elements: dict
  sample: [{node: worker-01, pod: web-0, namespace: shop, pdb: web}]
drain_failed:
  description: The nodes whose C(kubectl drain) failed (they stay cordoned).
  returned: always
  type: list
  elements: str
  sample: [worker-01]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._k8s import (
    KubectlError, kubectl_argument_spec, kubectl_from_module, parse_eviction_errors)
from ansible_collections.blackstart.cluster.plugins.module_utils._k8s_gates import (
    cordon_plan, drain_refusals, eviction_may_be_budget)
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import GateError


class DrainFailed(GateError):
    """One or more drains failed; ``str()`` names each node and why."""

    def __init__(self, msg, first):
        super(DrainFailed, self).__init__(msg)
        self.first = first

    def details(self):
        return self.first.details()


def now_changed(cli, names, unschedulable):
    """After a cordon/uncordon command failed: which of ``names`` are now as it asked (read again). If they cannot be
    read, a cordon counts all of them (the record must not miss one to uncordon), an uncordon none."""
    try:
        nodes = dict((n['name'], n) for n in cli.nodes())
    except KubectlError:
        return list(names) if unschedulable else []
    return [n for n in names if n in nodes and nodes[n]['unschedulable'] == unschedulable]


def drain(cli, nodes, pods, options, out):
    """Drain ``nodes`` together; record the drained ones in ``out``; raise DrainFailed naming each failure."""
    failures = []
    for node, _stdout, exc in cli.drain_all(nodes, **options):
        if exc is None:
            out['drained_nodes'].append(node)
        else:
            failures.append((node, exc))
    if not failures:
        return
    evictions = dict((node, parse_eviction_errors(exc.stdout + '\n' + exc.stderr)) for node, exc in failures)
    pdbs, pdb_error = None, None
    if any(eviction_may_be_budget(e['reason']) for evs in evictions.values() for e in evs):
        try:
            pdbs = cli.pdbs()
        except KubectlError as exc:
            pdb_error = 'the budgets could not be read: %s' % exc
    parts = []
    for node, exc in failures:
        out['drain_failed'].append(node)
        blocked, sentences = drain_refusals(node, evictions[node], pods, pdbs, pdb_error)
        out['blocked'].extend(blocked)
        parts.append('%s: %s' % (node, '; '.join(sentences) if sentences else str(exc)))
    raise DrainFailed('drain failed on %s (each `kubectl drain --timeout=%ss`, run together; the nodes stay cordoned): '
                      '%s' % (', '.join(out['drain_failed']), options['drain_timeout'], ' | '.join(parts)),
                      failures[0][1])


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
    out = dict(changed_nodes=[], already_unschedulable=[], already_schedulable=[], drained_nodes=[], commands=[],
               blocked=[], drain_failed=[])
    wanted = []
    for name in p['nodes']:
        if name and name not in wanted:
            wanted.append(name)
    if not wanted:
        module.exit_json(changed=False, msg='no node listed: nothing to do', **out)
    if p['drain_timeout'] < 1:
        module.fail_json(msg='drain_timeout must be at least 1 second', **out)
    state = p['state']
    if state == 'drained' and not p['drain']:
        state = 'cordoned'
    cli = kubectl_from_module(module)
    try:
        nodes = cli.nodes()
        pods = cli.pods() if state == 'drained' else []
        plan = cordon_plan(nodes, wanted, state, pods)
        out['already_unschedulable'] = plan['already_unschedulable']
        out['already_schedulable'] = plan['already_schedulable']
        if plan['to_cordon']:
            out['commands'].append(cli.base_argv() + ['cordon'] + plan['to_cordon'])
            if not module.check_mode:
                try:
                    cli.cordon(plan['to_cordon'])
                except KubectlError:
                    out['changed_nodes'] = now_changed(cli, plan['to_cordon'], True)
                    raise
            out['changed_nodes'] = list(plan['to_cordon'])
        drain_options = dict(ignore_daemonsets=p['ignore_daemonsets'], delete_emptydir_data=p['delete_emptydir_data'],
                             force=p['force'], grace_period=p['grace_period'], drain_timeout=p['drain_timeout'],
                             disable_eviction=p['disable_eviction'])
        for node in plan['to_drain']:
            out['commands'].append(cli.base_argv() + cli.drain_args(node, **drain_options))
        if module.check_mode:
            out['drained_nodes'] = list(plan['to_drain'])
        elif plan['to_drain']:
            drain(cli, plan['to_drain'], pods, drain_options, out)
        if plan['to_uncordon']:
            out['commands'].append(cli.base_argv() + ['uncordon'] + plan['to_uncordon'])
            if not module.check_mode:
                try:
                    cli.uncordon(plan['to_uncordon'])
                except KubectlError:
                    out['changed_nodes'] = now_changed(cli, plan['to_uncordon'], False)
                    raise
            out['changed_nodes'] = list(plan['to_uncordon'])
    except GateError as exc:
        # Say what was already done: a failed drain leaves its node cordoned, and the power-on must know.
        module.fail_json(msg=str(exc), changed=bool(out['changed_nodes'] or out['drained_nodes']),
                         **dict(out, **exc.details()))
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
