# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):

    # The kubectl client options shared by every Kubernetes module.
    DOCUMENTATION = r'''
options:
  kubectl:
    description:
      - Name or absolute path of the C(kubectl) command-line tool on the host the task runs on.
    type: str
    default: kubectl
  kubeconfig:
    description:
      - Path of the kubeconfig file, passed to C(kubectl) as C(--kubeconfig). Only the path is ever passed or
        returned; its certificates, keys and tokens never appear on a command line or in the result.
      - The default is the admin kubeconfig of a kubeadm control-plane host, for tasks that run on the first
        control-plane host. On the controller, give the path of a kubeconfig there and use C(delegate_to) V(localhost).
      - The file must exist and be readable, else the module fails before running anything.
    type: path
    default: /etc/kubernetes/admin.conf
  context:
    description:
      - The kubeconfig context to use, passed as C(--context). Default is the kubeconfig's current context.
    type: str
  cli_timeout:
    description:
      - Seconds one request may take, passed as C(--request-timeout). The whole C(kubectl) process is also
        bounded, through the C(timeout) command when the host has it, by three times this plus 5 seconds
        (discovery and the request), or for a drain by its C(drain_timeout) plus that.
    type: int
    default: 10
notes:
  - Every command runs as an argument list with C(LC_ALL=C); reads use C(-o json). A failure names the command,
    its exit code and stderr, and a hint. Errors that waiting may fix (connection refused, timeouts, HTTP 500/503)
    are retried by the gates; wrong CA, rejected credentials and an unusable kubeconfig fail at once.
requirements:
  - The C(kubectl) CLI on the host the task runs on (any release within one minor version of the cluster).
'''
