# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Recorded kubectl/etcdctl outputs, and fake `kubectl` / `etcdctl` run_commands that replay them and record argv.

fixtures/k8s/lab and fixtures/etcd/lab: {argv, rc, stdout, stderr} of the REAL kubectl 1.37 and etcdctl 3.4.23
against the lab/k8s harness (real etcd 3.4; kubelab stand-ins for the Kubernetes daemons), recorded by
tests/integration_k8s/capture.py. fixtures/k8s/public: captures from real clusters (see SOURCES.md).
fixtures/k8s/upstream: the real kubectl 1.37.2 against a real kube-apiserver, controller-manager and scheduler
1.37.2 with KWOK nodes (lab/upstream/kwok-cluster.sh), recorded by BS_CAPTURE=1 tests/faults/test_drain_pdb.py."""

from __future__ import annotations

import json
import os

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
K8S_LAB = os.path.join(FIXTURES, 'k8s', 'lab')
K8S_PUBLIC = os.path.join(FIXTURES, 'k8s', 'public')
K8S_UPSTREAM = os.path.join(FIXTURES, 'k8s', 'upstream')
ETCD_LAB = os.path.join(FIXTURES, 'etcd', 'lab')
ENV = {'LC_ALL': 'C', 'LANG': 'C'}


def capture(name, where=K8S_LAB):
    """(rc, stdout, stderr) of one recorded command."""
    with open(os.path.join(where, name + '.json')) as f:
        d = json.load(f)
    return d['rc'], d['stdout'], d['stderr']


def etcd_capture(name):
    return capture(name, ETCD_LAB)


def upstream_capture(name):
    """(rc, stdout, stderr) of one command recorded against real Kubernetes 1.37.2 (fixtures/k8s/upstream)."""
    return capture(name, K8S_UPSTREAM)


def lab_json(name):
    return json.loads(capture(name)[1])


def public_text(name):
    with open(os.path.join(K8S_PUBLIC, name)) as f:
        return f.read()


def ok(stdout='', stderr=''):
    return 0, stdout, stderr


def as_json(obj):
    return 0, json.dumps(obj), ''


def strip_timeout(argv):
    argv = list(argv)
    if argv and argv[0].endswith('timeout'):
        assert argv[1:3] == ['-k', '5'] and argv[3].isdigit()
        argv = argv[4:]
    return argv


_VALUE_OPTS = ('--kubeconfig', '--context', '--server', '--request-timeout')


def kubectl_words(argv):
    """(server or None, the command words) of a kubectl argv without the client options and `-o json`."""
    argv = strip_timeout(argv)
    words = []
    server = None
    skip = None
    for a in argv[1:]:
        if skip:
            if skip == '--server':
                server = a
            skip = None
            continue
        if a in _VALUE_OPTS:
            skip = a
            continue
        if a == '--insecure-skip-tls-verify=true':
            continue
        words.append(a)
    if words[-2:] == ['-o', 'json']:
        words = words[:-2]
    return server, tuple(words)


class FakeKubectl(object):
    """A `run_command` for kubectl. ``responses`` maps command words (a tuple) or (server, words) to
    (rc, out, err), a callable taking the words and returning that, or a list replayed in order (the last
    one repeats)."""

    def __init__(self, responses=None):
        self.responses = dict(responses or {})
        self.calls = []
        self.writes = []

    def __call__(self, argv, check_rc=False, environ_update=None, **kwargs):
        assert environ_update == ENV, environ_update
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), 'commands must be argument lists'
        self.calls.append(list(argv))
        server, words = kubectl_words(argv)
        if words and words[0] in ('cordon', 'uncordon', 'drain', 'delete'):
            self.writes.append(words)
        for key in ((server, words), words, words[:2]):
            if key in self.responses:
                resp = self.responses[key]
                if isinstance(resp, list):
                    resp = resp.pop(0) if len(resp) > 1 else resp[0]
                return resp(words) if callable(resp) else resp
        raise AssertionError('unexpected kubectl command %r (server %r)' % (words, server))


def etcd_words(argv):
    """(endpoints list, command words) of an etcdctl argv."""
    argv = strip_timeout(argv)
    words = []
    endpoints = None
    skip = None
    for a in argv[1:]:
        if skip:
            if skip == '--endpoints':
                endpoints = a.split(',')
            skip = None
            continue
        if a in ('--endpoints', '--cacert', '--cert', '--key', '--dial-timeout', '--command-timeout'):
            skip = a
            continue
        words.append(a)
    assert words[-2:] == ['-w', 'json'], words
    return endpoints, tuple(words[:-2])


class FakeEtcdctl(object):
    """A `run_command` for etcdctl. ``responses`` maps (command words) or (tuple(endpoints), words) to
    (rc, out, err), a callable (endpoints, words) -> that, or a list replayed in order."""

    def __init__(self, responses):
        self.responses = dict(responses)
        self.calls = []

    def __call__(self, argv, check_rc=False, environ_update=None, **kwargs):
        assert environ_update == {'ETCDCTL_API': '3', 'LC_ALL': 'C', 'LANG': 'C'}, environ_update
        assert isinstance(argv, list)
        self.calls.append(list(argv))
        endpoints, words = etcd_words(argv)
        for key in ((tuple(endpoints), words), words):
            if key in self.responses:
                resp = self.responses[key]
                if isinstance(resp, list):
                    resp = resp.pop(0) if len(resp) > 1 else resp[0]
                return resp(endpoints, words) if callable(resp) else resp
        raise AssertionError('unexpected etcdctl command %r to %r' % (words, endpoints))


def run_module(main, args, fake, monkeypatch, capsys, check_mode=False):
    """Run a module's main() with ``args`` against ``fake``; return (exit code, result dict)."""
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda self, *a, **k: fake(*a, **k))
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    code = None
    with patch_module_args(args):
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        else:  # pragma: no cover - a module always exits
            raise AssertionError('module did not exit')
    return code, json.loads(capsys.readouterr().out)
