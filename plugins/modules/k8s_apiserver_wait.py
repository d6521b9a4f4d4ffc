#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: k8s_apiserver_wait
short_description: Wait until every Kubernetes API server endpoint is ready
version_added: 0.1.0
description:
  - Asks each control-plane endpoint of O(endpoints) for C(/readyz?verbose) with
    C(kubectl --server URL get --raw), using the kubeconfig's CA to verify the server certificate and its
    credentials. When an endpoint is not ready it also asks C(/livez?verbose), to tell "alive, not ready" from "not alive".
  - Passes when every endpoint answers C(/readyz) with HTTP 200.
  - Reads the failing checks (C([-]etcd failed; reason withheld)) from the answer, also when kubectl reports the
    HTTP 500 as an error, and returns them per endpoint. On timeout it names each endpoint with its failing
    checks or its connection error.
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.kubectl
  - blackstart.cluster.wait
options:
  endpoints:
    description:
      - The API server URLs to check, one per control-plane host, like V(https://10.0.0.11:6443).
      - Default is the server of the kubeconfig's context (often a load balancer, which hides which apiserver answers).
      - The certificate of each apiserver must name the address used here (kubeadm puts every control-plane IP in it).
    type: list
    elements: str
  validate_certs:
    description:
      - Verify each apiserver's certificate against the kubeconfig's CA.
      - V(false) passes C(--insecure-skip-tls-verify=true) (kubectl 1.37 then ignores the kubeconfig's CA). Only for
        an apiserver whose certificate does not name the address used; the client credentials are still sent.
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Wait for the three API servers (on the first control-plane host, with its admin kubeconfig)
  blackstart.cluster.k8s_apiserver_wait:
    endpoints:
      - https://10.0.0.11:6443
      - https://10.0.0.12:6443
      - https://10.0.0.13:6443
    timeout: 600
  delegate_to: "{{ groups['k8s_control_plane'][0] }}"
  become: true

- name: Wait for the API from the controller, through the kubeconfig's load balancer address
  blackstart.cluster.k8s_apiserver_wait:
    kubeconfig: "{{ playbook_dir }}/files/admin.kubeconfig"
  delegate_to: localhost
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
  sample: 12.5
attempts:
  description: How many times the endpoints were asked.
  returned: always
  type: int
  sample: 9
missing:
  description: One sentence per endpoint not ready at the last check, naming it and its failing checks or error.
  returned: always
  type: list
  elements: str
  sample: ['apiserver https://10.0.0.12:6443 not ready; [-]etcd failed; reason withheld']
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
state:
  description: The last answer of every endpoint.
  returned: always
  type: dict
  contains:
    endpoints:
      description: Per endpoint; endpoint, ready, failed_checks (names), error (connection error text or null), live (livez passed, or null when not asked).
      type: list
      elements: dict
    ready:
      description: The endpoints that are ready.
      type: list
      elements: str
    not_ready:
      description: The endpoints that are not.
      type: list
      elements: str
  sample:
    ready: ['https://10.0.0.11:6443']
    not_ready: ['https://10.0.0.12:6443']
    endpoints:
      - {endpoint: 'https://10.0.0.11:6443', ready: true, failed_checks: [], error: null, live: null}
      - {endpoint: 'https://10.0.0.12:6443', ready: false, failed_checks: [etcd, etcd-readiness], error: null, live: false}
'''

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._k8s import (
    KubectlError, kubectl_argument_spec, kubectl_from_module)
from ansible_collections.blackstart.cluster.plugins.module_utils._k8s_gates import apiserver_observation
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import gate_argument_spec, run_gate


def make_check(cli, endpoints, insecure=False):
    """``endpoints``: list of (label, server or None for the kubeconfig's own)."""
    def check():
        results = []
        for label, server in endpoints:
            ready = cli.health('/readyz?verbose', server=server, insecure=insecure)
            live = None
            if not ready['ok'] and not ready['error']:
                live = cli.health('/livez?verbose', server=server, insecure=insecure)
            results.append(dict(endpoint=label, readyz=ready, livez=live))
        return apiserver_observation(results)
    return check


def main():
    argument_spec = kubectl_argument_spec()
    argument_spec.update(gate_argument_spec())
    argument_spec.update(
        endpoints=dict(type='list', elements='str'),
        validate_certs=dict(type='bool', default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    bad = [e for e in module.params['endpoints'] or [] if not re.match(r'^https://[^/\s]+/?$', e)]
    if bad:
        module.fail_json(msg='endpoints must be https URLs of API servers like https://10.0.0.11:6443 (got %s)'
                         % ', '.join(bad))
    cli = kubectl_from_module(module)
    if module.params['endpoints']:
        endpoints = [(e.rstrip('/'), e.rstrip('/')) for e in module.params['endpoints']]
    else:
        try:
            label = cli.kubeconfig_server() or 'the kubeconfig\'s server'
        except KubectlError as exc:
            module.fail_json(msg=str(exc), **exc.details())
        endpoints = [(label, None)]
    run_gate(module, 'Kubernetes API servers',
             make_check(cli, endpoints, insecure=not module.params['validate_certs']))


if __name__ == '__main__':
    main()
