#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: k8s_storage_wait
short_description: Wait until PersistentVolumeClaims are Bound and no pod is stuck on its volumes
version_added: 0.1.0
description:
  - Reads the PersistentVolumeClaims, the pods and the Warning events until every claim in scope (all, or those
    of O(namespaces) and O(storage_classes)) is C(Bound) and every pod using one of them has left C(Pending) (its
    volumes mounted and its containers started), since only a started pod proves that its volumes mount. A pod still
    C(ContainerCreating) or C(Pending) is reported as C(still ...) within O(grace) seconds and as C(stuck ...) after,
    or at once when it has a C(FailedMount)/C(FailedAttachVolume) event.
  - Reports each unbound claim with its last event, and each stuck pod with its node, how long it has been stuck and
    the message of its last mount event, for example
    C(pod jenkins/jenkins-0 on worker-01 stuck ContainerCreating 95s; FailedMount; … probably no MDS server is up?).
  - RV(state.pvcs_not_bound) and RV(state.pods_not_started) list, whatever O(ignore) says, what is not Bound / not
    started; run once in check mode with O(timeout=0) before a power-off, they are the baseline to pass as O(ignore).
  - With O(delete_stuck_pods=true), once every claim in scope is Bound, pods still stuck past O(grace) are deleted
    so that their controllers recreate them (a mount that failed while the storage was down is often retried with a
    long back-off). Only pods that a controller (ReplicaSet, StatefulSet, Job...) recreates are deleted; a bare pod
    is reported, never deleted. Each pod is deleted at most once per run. The module cannot see the storage
    cluster itself; run the Ceph gates (for example M(blackstart.cluster.ceph_mds_wait)) before.
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.kubectl
  - blackstart.cluster.wait
attributes:
  check_mode:
    support: full
    details: Evaluated once without waiting; with O(delete_stuck_pods) it returns the pods it would delete in RV(deleted_pods) and deletes nothing.
  idempotent:
    support: partial
    details: Only reads, unless O(delete_stuck_pods=true) finds stuck pods to delete.
options:
  namespaces:
    description:
      - Only claims and pods of these namespaces. Default is all namespaces.
    type: list
    elements: str
  storage_classes:
    description:
      - Only claims of these storage classes, and pods that use them. Default is all classes.
    type: list
    elements: str
  grace:
    description:
      - Seconds a pod may stay C(Pending) or C(ContainerCreating) (counted from its scheduling, or its creation when it
        is not scheduled) before it counts as stuck.
    type: int
    default: 60
  pods_running:
    description:
      - Wait for the pods using a claim in scope to leave C(Pending). With V(false), a pod within O(grace) and without
        a mount-failure event does not hold the gate (for claims whose pods are expected to stay C(Pending) for
        reasons other than storage).
    type: bool
    default: true
  delete_stuck_pods:
    description:
      - Delete the pods still stuck past O(grace) once every claim in scope is Bound, so their controllers recreate them.
    type: bool
    default: false
  ignore:
    description:
      - Claims and pods, as V(namespace/name), that were not Bound / not started before the power-off - typically
        RV(state.pvcs_not_bound) and RV(state.pods_not_started) of a check-mode run then. They are not waited on
        (and never deleted); a pod whose claims in scope are all ignored is not waited on either (it cannot start;
        a controller's replacement pod has another name than the one recorded). Reported in RV(state.ignored).
    type: list
    elements: str
    default: []
  absent_nodes:
    description:
      - Nodes known not to come back. Pods scheduled on them are not waited on; they are reported in
        RV(state.on_absent_nodes). Names match exactly or by their short name.
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Wait for the CephFS and RBD claims and their pods after the Ceph gates passed
  blackstart.cluster.k8s_storage_wait:
    storage_classes: [cephfs, rbd]
    grace: 120
    timeout: 900
  delegate_to: "{{ groups['k8s_control_plane'][0] }}"
  become: true

- name: Same, recreating pods whose mount failed while the MDS was down
  blackstart.cluster.k8s_storage_wait:
    storage_classes: [cephfs]
    delete_stuck_pods: true
  register: storage

- name: Say which pods were recreated
  ansible.builtin.debug:
    msg: "{{ storage.deleted_pods }}"

- name: Before the power-off, record the claims not Bound and the pods not started (evaluated once, never waits)
  blackstart.cluster.k8s_storage_wait:
    timeout: 0
  check_mode: true
  register: storage_baseline

- name: After the power-on, wait for the rest; worker-05 is not coming back
  blackstart.cluster.k8s_storage_wait:
    ignore: "{{ storage_baseline.state.pvcs_not_bound + storage_baseline.state.pods_not_started }}"
    absent_nodes: [worker-05]
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
  sample: 40.3
attempts:
  description: How many times the state was read.
  returned: always
  type: int
  sample: 15
missing:
  description: One sentence per claim or pod not ready at the last check.
  returned: always
  type: list
  elements: str
  sample: ['pod ci/jenkins-0 on worker-01 stuck ContainerCreating 95s; FailedMount; ... probably no MDS server is up?']
transient_errors:
  description: The last few distinct errors that were retried.
  returned: always
  type: list
  elements: str
transient_count:
  description: How many checks ended in a retried error.
  returned: always
  type: int
  sample: 0
deleted_pods:
  description: The pods this call deleted (in check mode, would delete), as V(namespace/name).
  returned: always
  type: list
  elements: str
  sample: [ci/jenkins-0]
state:
  description: The last view of the claims and pods in scope.
  returned: always
  type: dict
  contains:
    pvcs_total:
      description: How many claims are in scope.
      type: int
    pvcs_bound:
      description: How many of them are Bound.
      type: int
    unbound_pvcs:
      description: The claims that are not Bound; namespace, name, phase, storage_class.
      type: list
      elements: dict
    stuck_pods:
      description:
        - The pods still or stuck C(Pending); namespace, name, node, age (seconds), how (ContainerCreating or
          Pending ...), past_grace (V(false) for a pod still starting), reason and message of the last mount event.
      type: list
      elements: dict
    pvcs_not_bound:
      description: Every claim in scope that is not Bound, as V(namespace/name), ignored ones included.
      type: list
      elements: str
    pods_not_started:
      description:
        - Every pod using a claim in scope (or with a mount-failure event) that has not left C(Pending), as
          V(namespace/name), whatever O(grace), O(pods_running), O(ignore) and O(absent_nodes) say.
      type: list
      elements: str
    ignored:
      description: The claims and pods not ready that O(ignore) set aside, as V(namespace/name).
      type: list
      elements: str
    on_absent_nodes:
      description: The pods not started on a node of O(absent_nodes), as V(namespace/name); not waited on.
      type: list
      elements: str
  sample:
    pvcs_total: 2
    pvcs_bound: 2
    unbound_pvcs: []
    stuck_pods:
      - {namespace: ci, name: jenkins-0, node: worker-01, age: 95, how: ContainerCreating, past_grace: true, reason: FailedMount,
         message: 'MountVolume.MountDevice failed for volume "pvc-..." ...'}
    pvcs_not_bound: []
    pods_not_started: [ci/jenkins-0, shop/web-1]
    ignored: [shop/web-1]
    on_absent_nodes: []
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._k8s import (
    KubectlError, kubectl_argument_spec, kubectl_from_module)
from ansible_collections.blackstart.cluster.plugins.module_utils._k8s_gates import storage_observation
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import gate_argument_spec, run_gate

# Controllers that recreate a deleted pod.
RECREATING_OWNERS = ('ReplicaSet', 'StatefulSet', 'Job', 'ReplicationController', 'DaemonSet')


class Remediation(object):
    """Deletes stuck pods once the claims are Bound; remembers what it deleted (or would, in check mode).

    ``extra`` is the dict :func:`run_gate` adds to the result: deleted_pods, changed, and the sentences for the message.
    """

    def __init__(self, cli, enabled, check_mode):
        self.cli = cli
        self.enabled = enabled
        self.check_mode = check_mode
        self.deleted = []
        self.done_uids = set()
        self.skipped = []
        self.extra = dict(deleted_pods=self.deleted, changed=False)

    def __call__(self, obs, stuck):
        self._note(obs.state)
        if not self.enabled or obs.ready or obs.state['unbound_pvcs']:
            return obs
        for pod in stuck:
            if not pod['past_grace']:
                continue  # give the kubelet its own retries first
            key = '%s/%s' % (pod['namespace'], pod['name'])
            if pod['uid'] in self.done_uids:
                continue
            self.done_uids.add(pod['uid'])
            if pod['owner_kind'] not in RECREATING_OWNERS:
                self.skipped.append(key)
                obs.missing.append('pod %s is not deleted: no controller would recreate it (owner: %s); delete and '
                                   'recreate it by hand' % (key, pod['owner_kind'] or 'none'))
                continue
            if not self.check_mode:
                try:
                    self.cli.delete_pod(pod['namespace'], pod['name'])
                except KubectlError as exc:
                    if not exc.not_found:  # gone already: its controller is on it
                        raise
            self.deleted.append(key)
            self.extra['changed'] = True
            self.extra['done'] = '%s pods %s' % ('would delete' if self.check_mode else 'deleted', ', '.join(self.deleted))
        return obs

    def _note(self, state):
        parts = []
        if state['ignored']:
            parts.append('not waited on (not Bound / not started before): %s' % ', '.join(state['ignored']))
        if state['on_absent_nodes']:
            parts.append('not waited on (on an absent node): %s' % ', '.join(state['on_absent_nodes']))
        self.extra['note'] = '; '.join(parts)


def make_check(cli, params, remediation, clock=None):
    def check():
        pvcs = cli.pvcs()
        pods = cli.pods()
        events = cli.warning_events()
        obs, stuck = storage_observation(pvcs, pods, events, (clock or time.time)(), grace=params['grace'],
                                         namespaces=params['namespaces'], storage_classes=params['storage_classes'],
                                         pods_running=params['pods_running'], ignore=params['ignore'],
                                         absent_nodes=params['absent_nodes'])
        return remediation(obs, stuck)
    return check


def main():
    argument_spec = kubectl_argument_spec()
    argument_spec.update(gate_argument_spec())
    argument_spec.update(
        namespaces=dict(type='list', elements='str'),
        storage_classes=dict(type='list', elements='str'),
        grace=dict(type='int', default=60),
        pods_running=dict(type='bool', default=True),
        delete_stuck_pods=dict(type='bool', default=False),
        ignore=dict(type='list', elements='str', default=[]),
        absent_nodes=dict(type='list', elements='str', default=[]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    if p['grace'] < 0 or p['timeout'] < 0 or p['poll'] <= 0:
        module.fail_json(msg='grace and timeout must be >= 0 and poll > 0 (got grace=%s, timeout=%s, poll=%s)'
                         % (p['grace'], p['timeout'], p['poll']))
    bad = [i for i in p['ignore'] if i.count('/') != 1 or not all(i.split('/'))]
    if bad:
        module.fail_json(msg='ignore: %s not of the form namespace/name' % ', '.join(repr(i) for i in bad))
    cli = kubectl_from_module(module)
    remediation = Remediation(cli, p['delete_stuck_pods'], module.check_mode)
    run_gate(module, 'Kubernetes storage', make_check(cli, p, remediation), extra=remediation.extra)


if __name__ == '__main__':
    main()
