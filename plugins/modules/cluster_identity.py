#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: cluster_identity
short_description: Read what identifies a cluster - the Ceph fsid or the kube-system namespace UID
version_added: 0.2.0
description:
  - Reads the Ceph cluster's fsid (C(ceph fsid)) or the UID of the C(kube-system) namespace, which a cluster keeps
    for its whole life and a rebuilt cluster does not share. The power cycle's record stores them, so that a record
    left by another cluster (or by this lab before it was rebuilt) is refused instead of undone here.
  - A cluster that does not answer is not an error, since a power cycle that resumes meets clusters that are
    already down. RV(reachable) is then false and RV(error) says why.
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
attributes:
  check_mode:
    support: full
    details: Read only; runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  component:
    description: Which identity to read.
    type: str
    choices: [ceph, kubernetes]
    required: true
  executable:
    description: For V(ceph), name or absolute path of the C(ceph) CLI.
    type: str
    default: ceph
  cluster:
    description: For V(ceph), the cluster name (C(--cluster)).
    type: str
  conf:
    description: For V(ceph), the path of the Ceph configuration file.
    type: path
  user:
    description: For V(ceph), the client name or id (C(client.admin) or C(admin)).
    type: str
  keyring:
    description: For V(ceph), the path of the keyring file. Only the path is passed, never a key.
    type: path
  kubectl:
    description: For V(kubernetes), name or absolute path of C(kubectl).
    type: str
    default: kubectl
  kubeconfig:
    description: For V(kubernetes), the kubeconfig path. Only the path is passed.
    type: path
    default: /etc/kubernetes/admin.conf
  context:
    description: For V(kubernetes), the kubeconfig context.
    type: str
  cli_timeout:
    description: Seconds one request may take (both CLIs are also bounded from outside).
    type: int
    default: 10
'''

EXAMPLES = r'''
- name: Which Ceph cluster is this
  blackstart.cluster.cluster_identity:
    component: ceph
  register: identity_ceph

- name: Which Kubernetes cluster is this
  blackstart.cluster.cluster_identity:
    component: kubernetes
    kubeconfig: /etc/kubernetes/admin.conf
  register: identity_k8s
'''

RETURN = r'''
reachable:
  description: Whether the cluster answered.
  returned: always
  type: bool
  sample: true
ceph_fsid:
  description: The Ceph fsid, or "" when it could not be read.
  returned: when O(component=ceph)
  type: str
  sample: 8d1d2ea6-5c4b-4c5e-9b8f-8d4f0d1d0f1a
kube_system_uid:
  description: The UID of the kube-system namespace, or "" when it could not be read.
  returned: when O(component=kubernetes)
  type: str
  sample: 0f3c8a52-6b6e-4d7e-a1f2-6a0f5d4c3b2a
error:
  description: Why the cluster could not be read ("" when it was).
  returned: always
  type: str
  sample: "`ceph fsid` failed (rc=1): error connecting to the cluster"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import (
    CephCommandError, ceph_argument_spec, cli_from_module)
from ansible_collections.blackstart.cluster.plugins.module_utils._k8s import (
    KubectlError, kubectl_argument_spec, kubectl_from_module)


def read_identity(component, client):
    """(key, value, error): the identity read through ``client`` (CephClient or KubectlCLI)."""
    if component == 'ceph':
        try:
            return 'ceph_fsid', str((client.run(['fsid']) or {}).get('fsid') or ''), ''
        except CephCommandError as exc:
            return 'ceph_fsid', '', str(exc)
    try:
        data = client.run(['get', 'namespace', 'kube-system'], fmt_json=True)
        return 'kube_system_uid', str(((data or {}).get('metadata') or {}).get('uid') or ''), ''
    except KubectlError as exc:
        return 'kube_system_uid', '', str(exc)


def main():
    argument_spec = ceph_argument_spec()
    argument_spec.update(kubectl_argument_spec())
    argument_spec.update(component=dict(type='str', choices=['ceph', 'kubernetes'], required=True))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    component = module.params['component']
    client = cli_from_module(module) if component == 'ceph' else kubectl_from_module(module)
    key, value, error = read_identity(component, client)
    module.exit_json(changed=False, reachable=bool(value), error=error, **{key: value})


if __name__ == '__main__':
    main()
