# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):

    # The etcdctl client options.
    DOCUMENTATION = r'''
options:
  etcdctl:
    description:
      - Name or absolute path of C(etcdctl) (v3 API, 3.4 or later) on the host the task runs on. It runs with
        C(ETCDCTL_API=3).
    type: str
    default: etcdctl
  endpoints:
    description:
      - The etcd client URLs to ask for the member list, passed together as C(--endpoints); etcdctl's client
        fails over between them, so one member that is down does not hide the others.
      - The default asks only the local member. If that member is down the member list cannot be read; the gate
        keeps waiting and says so. List every member's client URL to be answered by whichever is up.
      - The health and status of each member are then asked at the client URL the member advertises.
    type: list
    elements: str
    default: ['https://127.0.0.1:2379']
  cacert:
    description:
      - Path of the etcd CA certificate, passed as C(--cacert). Default is kubeadm's.
    type: path
    default: /etc/kubernetes/pki/etcd/ca.crt
  cert:
    description:
      - Path of a client certificate the etcd CA signed, passed as C(--cert). Default is kubeadm's health-check client.
    type: path
    default: /etc/kubernetes/pki/etcd/healthcheck-client.crt
  key:
    description:
      - Path of the private key of O(cert), passed as C(--key). Only the path is passed, never the key.
    type: path
    default: /etc/kubernetes/pki/etcd/healthcheck-client.key
  cli_timeout:
    description:
      - Seconds one etcd request may take, passed as C(--command-timeout) (and, up to 5, C(--dial-timeout)). The
        whole process is bounded through the C(timeout) command, when the host has it, by this times the number of
        endpoints plus one, plus 5 seconds.
    type: int
    default: 5
notes:
  - The certificate, key and CA files must exist and be readable, else the module fails before running anything.
requirements:
  - C(etcdctl) (Debian package C(etcd-client)) on the host the task runs on, usually a control-plane host.
'''
