# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Everything blackstart says to etcd goes through this file, through ``etcdctl`` and its v3 API.

:class:`EtcdCLI` runs ``ETCDCTL_API=3 etcdctl --endpoints … --cacert --cert --key --dial-timeout
--command-timeout … -w json`` as an argument list (``LC_ALL=C``; an outer ``timeout(1)`` when the host has
it). Only *paths* of the CA, certificate and key are passed, never their content.

Measured with etcdctl 3.4.23 against a 3-member TLS etcd 3.4 (tests/unit/fixtures/etcd/lab):

* ``endpoint health -w json`` checks each endpoint on its own (a linearizable read, so it needs a leader and
  a quorum) and prints one JSON entry per endpoint, with ``"error"`` for an unhealthy one, *and* exits 1
  with ``Error: unhealthy cluster`` when any is unhealthy: the JSON on stdout is the answer, not the rc.
* ``endpoint status -w json`` prints only the endpoints that answered (a dead one is named on stderr as
  ``Failed to get the status of endpoint URL (context deadline exceeded)``); an answering member without a
  leader says ``"errors":["etcdserver: no leader"]`` and has no ``leader`` field.
* ``member list`` asked to several endpoints fails over between them; asked to one dead endpoint it fails
  with ``Error: context deadline exceeded`` after ``--command-timeout``.

Private to the collection (leading underscore).
"""

from __future__ import annotations

import re

from ansible_collections.blackstart.cluster.plugins.module_utils._cli import (
    CommandError, Tool, file_problems, find_executable, is_transient_failure)
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import TransientError

DEFAULT_ENDPOINT = 'https://127.0.0.1:2379'
# kubeadm's layout, the usual place of an etcd client certificate on a control-plane host.
KUBEADM_CACERT = '/etc/kubernetes/pki/etcd/ca.crt'
KUBEADM_CERT = '/etc/kubernetes/pki/etcd/healthcheck-client.crt'
KUBEADM_KEY = '/etc/kubernetes/pki/etcd/healthcheck-client.key'

_TRANSIENT_MARKERS = (
    'context deadline exceeded',
    'connection refused',
    'transientfailure',
    'no route to host',
    'i/o timeout',
    'etcdserver: no leader',
    'etcdserver: request timed out',
    'etcdserver: leader changed',
    'unhealthy cluster',
    'connection reset',
    'eof',
    'no such host',
    'temporary failure in name resolution',
)
_PERMANENT_MARKERS = (
    'x509',
    'certificate signed by unknown authority',
    'bad certificate',
    'authentication handshake failed',
    'open ',
    'no such file',
    'unknown flag',
    'unknown command',
    'permission denied',
)


def is_transient(rc, stderr):
    return is_transient_failure(rc, stderr, _TRANSIENT_MARKERS, _PERMANENT_MARKERS)


def _hint_for(stderr, rc):
    low = (stderr or '').lower()
    if rc == 124 or 'deadline exceeded' in low or 'refused' in low or 'transientfailure' in low:
        return ('No etcd member answered in time: check etcd runs on the control-plane hosts (systemctl status etcd, '
                'or crictl ps | grep etcd for a static pod) and give every member\'s client URL in endpoints')
    if 'x509' in low or 'unknown authority' in low or 'bad certificate' in low or 'handshake' in low:
        return ('TLS failed: cacert must be the etcd CA, cert/key a client certificate it signed '
                '(kubeadm: /etc/kubernetes/pki/etcd/ca.crt and healthcheck-client.crt/.key); also check the clocks')
    if 'permission denied' in low or 'no such file' in low or 'open ' in low:
        return 'etcdctl could not read a certificate or key file: check the cacert, cert and key options (become: true)'
    return None


def _useful_stderr(stderr):
    """etcdctl 3.4 logs JSON retry warnings before the message that matters: keep the plain lines."""
    lines = [ln for ln in (stderr or '').strip().splitlines() if ln.strip() and not ln.lstrip().startswith('{')]
    return lines


class EtcdError(CommandError):
    """An etcdctl command failed. ``str()`` is a complete sentence for the operator."""

    @property
    def said(self):
        lines = _useful_stderr(self.stderr) or self.stderr.splitlines()
        return '; '.join(lines)[-500:] if lines else ''


class EtcdTransientError(EtcdError, TransientError):
    """No member answered in time, or no leader: worth retrying while a gate waits."""


ETCDCTL = Tool(EtcdError, EtcdTransientError, is_transient, _hint_for, 'an etcdctl of the v3 API (3.4+)', 'etcdctl')


class EtcdCLI(object):
    """Runs ``etcdctl`` (v3 API). ``run_command`` has AnsibleModule.run_command's signature."""

    def __init__(self, run_command, executable='etcdctl', cacert=None, cert=None, key=None, op_timeout=5,
                 timeout_bin=None):
        self._run_command = run_command
        self.executable = executable
        self.cacert = cacert
        self.cert = cert
        self.key = key
        self.op_timeout = int(op_timeout)
        self.timeout_bin = timeout_bin

    def argv(self, endpoints, args):
        argv = [self.executable, '--endpoints', ','.join(endpoints)]
        for flag, value in (('--cacert', self.cacert), ('--cert', self.cert), ('--key', self.key)):
            if value:
                argv += [flag, value]
        argv += ['--dial-timeout', '%ds' % min(self.op_timeout, 5), '--command-timeout', '%ds' % self.op_timeout]
        return argv + list(args) + ['-w', 'json']

    def run(self, endpoints, args, accept_rc1_with_json=False):
        argv = self.argv(endpoints, args)
        # endpoint status asks the endpoints one after the other: budget one command timeout each.
        budget = self.op_timeout * (len(endpoints) + 1) + 5
        # `endpoint health/status` exit 1 when one endpoint is unhealthy, and their JSON is the answer then.
        accept = (lambda rc, out, err: rc == 1 and bool(out.strip())) if accept_rc1_with_json else None
        rc, out, err = ETCDCTL.run(self._run_command, argv, self.timeout_bin, budget, {'ETCDCTL_API': '3'}, accept)
        return (ETCDCTL.parse_json(argv, rc, out, err) if out.strip() else None), err

    def member_list(self, endpoints):
        data, _err = self.run(endpoints, ['member', 'list'])
        return read_member_list(data or {})

    def endpoint_health(self, endpoints):
        data, err = self.run(endpoints, ['endpoint', 'health'], accept_rc1_with_json=True)
        return read_endpoint_health(data or [], err)

    def endpoint_status(self, endpoints):
        data, err = self.run(endpoints, ['endpoint', 'status'], accept_rc1_with_json=True)
        return read_endpoint_status(data or [], err)


def etcd_argument_spec():
    """The client options of the etcd module (documented by the blackstart.cluster.etcd doc fragment)."""
    return dict(
        etcdctl=dict(type='str', default='etcdctl'),
        endpoints=dict(type='list', elements='str', default=[DEFAULT_ENDPOINT]),
        cacert=dict(type='path', default=KUBEADM_CACERT),
        cert=dict(type='path', default=KUBEADM_CERT),
        key=dict(type='path', default=KUBEADM_KEY, no_log=False),
        cli_timeout=dict(type='int', default=5),
    )


def etcdctl_from_module(module):
    """Build an EtcdCLI from the module's options, or fail the module naming the bad input (before running anything)."""
    p = module.params
    exe = p['etcdctl']
    path = find_executable(module, exe)
    problems = []
    if not path:
        problems.append('etcdctl %r not found (PATH or absolute path): install etcd-client (Debian) on this host, '
                        'or set the etcdctl option' % exe)
    for what in ('cacert', 'cert', 'key'):
        problems += file_problems(what, p[what], ' (become: true)')
    if bool(p['cert']) != bool(p['key']):
        problems.append('cert and key go together: give both or neither')
    if not p['endpoints']:
        problems.append('endpoints must name at least one etcd client URL')
    for ep in p['endpoints'] or []:
        if not re.match(r'^https?://[^/\s,]+$', ep):
            problems.append('endpoint %r is not a client URL like https://10.0.0.11:2379' % ep)
    if p['cli_timeout'] < 1:
        problems.append('cli_timeout must be at least 1 second')
    if problems:
        module.fail_json(msg='; '.join(problems))
    return EtcdCLI(module.run_command, executable=path, cacert=p['cacert'], cert=p['cert'], key=p['key'],
                   op_timeout=p['cli_timeout'], timeout_bin=module.get_bin_path('timeout'))


# ---------------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------------

def _hex(member_id):
    return '%x' % int(member_id) if member_id is not None else None


def read_member_list(data):
    """``member list -w json`` -> [{id (hex, as etcdctl's table prints it), name, client_urls, peer_urls, started}]."""
    out = []
    for m in data.get('members', []) or []:
        name = m.get('name') or ''
        out.append(dict(id=_hex(m.get('ID')), name=name, client_urls=list(m.get('clientURLs') or []),
                        peer_urls=list(m.get('peerURLs') or []), started=bool(name),
                        learner=bool(m.get('isLearner'))))
    return out


def read_endpoint_health(data, stderr=''):
    """``endpoint health -w json`` -> {endpoint: {healthy, error, took}}."""
    out = {}
    for e in data or []:
        out[e.get('endpoint')] = dict(healthy=bool(e.get('health')), error=e.get('error') or None, took=e.get('took'))
    return out


_STATUS_FAIL_RE = re.compile(r'Failed to get the status of endpoint (\S+) \((.*)\)')


def read_endpoint_status(data, stderr=''):
    """``endpoint status -w json`` (+ its stderr) -> {endpoint: {member_id, leader, raft_term, errors, version, error}}."""
    out = {}
    for e in data or []:
        st = e.get('Status') or {}
        header = st.get('header') or {}
        out[e.get('Endpoint')] = dict(
            member_id=_hex(header.get('member_id')),
            leader=_hex(st.get('leader')) if st.get('leader') else None,
            raft_term=st.get('raftTerm'),
            raft_index=st.get('raftIndex'),
            version=st.get('version'),
            db_size=st.get('dbSize'),
            errors=list(st.get('errors') or []),
            error=None,
        )
    for ep, why in _STATUS_FAIL_RE.findall(stderr or ''):
        out.setdefault(ep, dict(member_id=None, leader=None, raft_term=None, raft_index=None, version=None,
                                db_size=None, errors=[], error=why))
    return out
