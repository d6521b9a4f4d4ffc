# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Everything blackstart says to Kubernetes goes through this file, through the real ``kubectl``.

Two halves:

* :class:`KubectlCLI` runs ``kubectl`` with an argument list: always ``--kubeconfig PATH`` (a path only: the
  kubeconfig's certificates and tokens never reach a command line, an environment variable or a result),
  ``--request-timeout``, ``-o json`` for reads, ``LC_ALL=C`` and, when the host has it, an outer
  ``timeout(1)``. It returns parsed JSON or text, or raises :class:`KubectlError` naming the command, rc,
  stderr and a hint. Measured with kubectl 1.37: a read that cannot reach the apiserver prints an empty
  ``List`` on stdout *and* fails (rc 1), so the exit code is always checked before the JSON.

* ``read_*`` functions turn the JSON of one command into small plain dicts (nodes, pods, PVCs, events) and
  ``parse_health_body`` reads the ``[+]check ok`` / ``[-]check failed`` lines of ``/readyz?verbose`` and
  ``/livez?verbose``, including from kubectl's error text on HTTP 500 (``Error from server (InternalError):
  an error on the server ("[+]ping ok\\n[-]etcd failed: reason withheld\\n…") has prevented …``).

Private to the collection (leading underscore).
"""

from __future__ import annotations

import datetime
import json
import re
import threading

from ansible_collections.blackstart.cluster.plugins.module_utils._cli import (
    CommandError, Tool, file_problems, find_executable, is_transient_failure)
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import TransientError

DEFAULT_KUBECONFIG = '/etc/kubernetes/admin.conf'

# stderr fragments that mean "the apiserver is not reachable or not ready yet": retry, don't fail.
_TRANSIENT_MARKERS = (
    'connection refused',
    'was refused',
    'connect: no route to host',
    'no route to host',
    'i/o timeout',
    'tls handshake timeout',
    'context deadline exceeded',
    'client.timeout exceeded',
    'request canceled',
    'timeout awaiting response headers',
    'unable to connect to the server',
    'the server is currently unable to handle the request',
    '(serviceunavailable)',
    '(internalerror)',
    '(timeout)',
    '(toomanyrequests)',
    'etcdserver: leader changed',
    'etcdserver: request timed out',
    'connection reset by peer',
    'eof',
    'http2: server sent goaway',
    'net/http: tls handshake timeout',
    # DNS may be one of the things still coming up after a power-on.
    'no such host',
    'server misbehaving',
    'temporary failure in name resolution',
)
# ...unless one of these says waiting will not help (bad credentials, wrong CA, broken kubeconfig).
_PERMANENT_MARKERS = (
    'x509:',
    'certificate signed by unknown authority',
    '(unauthorized)',
    'you must be logged in to the server',
    'error loading config file',
    'invalid configuration',
    'no configuration has been provided',
    'unknown flag',
    'unknown command',
    'error: flag needs an argument',
    'stat ',
    'no such file or directory',
)


def is_transient(rc, stderr):
    """Whether a failed kubectl call is worth retrying (the apiserver may simply not be up yet)."""
    return is_transient_failure(rc, stderr, _TRANSIENT_MARKERS, _PERMANENT_MARKERS)


def _hint_for(stderr, rc):
    low = (stderr or '').lower()
    if rc == 124:
        return 'kubectl did not finish in time: the apiserver (or etcd behind it) is not answering'
    if 'refused' in low or 'no route to host' in low:
        return ('Nothing answers at that address: check that kube-apiserver runs on the control-plane hosts '
                '(crictl ps | grep kube-apiserver, systemctl status kubelet) and that the kubeconfig\'s server is right')
    if 'i/o timeout' in low or 'deadline exceeded' in low or 'tls handshake timeout' in low or 'client.timeout' in low:
        return 'The apiserver did not answer in time: it may still be starting or waiting for etcd'
    if 'x509' in low and ('expired' in low or 'not yet valid' in low):
        return ('A certificate is outside its validity period: check the clocks (NTP) of this host and the control '
                'plane, then the certificate dates (kubeadm certs check-expiration)')
    if 'x509' in low or 'unknown authority' in low:
        return ('TLS verification failed: the kubeconfig\'s certificate-authority does not match the apiserver\'s '
                'certificate (or the endpoint is not in its SANs)')
    if '(unauthorized)' in low or 'must be logged in' in low:
        return 'The apiserver rejected the credentials of the kubeconfig: check its client certificate or token has not expired'
    if '(forbidden)' in low:
        return 'The kubeconfig\'s user may not do this: use an admin kubeconfig (/etc/kubernetes/admin.conf)'
    if 'error loading config file' in low or 'invalid configuration' in low or 'no configuration' in low:
        return 'The kubeconfig could not be used: check the kubeconfig option points at a valid kubeconfig file'
    if '(internalerror)' in low or '(serviceunavailable)' in low:
        return 'The apiserver answers but is not ready (often: etcd has no quorum)'
    return None


class KubectlError(CommandError):
    """A kubectl command failed. ``str()`` is a complete sentence for the operator."""

    @property
    def not_found(self):
        return '(notfound)' in self.stderr.lower()


class KubectlTransientError(KubectlError, TransientError):
    """The apiserver could not be reached or was not ready: worth retrying while a gate waits."""


KUBECTL = Tool(KubectlError, KubectlTransientError, is_transient, _hint_for, 'a kubectl', 'kubectl')


class KubectlCLI(object):
    """Runs ``kubectl``. ``run_command`` has AnsibleModule.run_command's signature (tests pass a fake)."""

    def __init__(self, run_command, executable='kubectl', kubeconfig=DEFAULT_KUBECONFIG, context=None,
                 request_timeout=10, timeout_bin=None):
        self._run_command = run_command
        self.executable = executable
        self.kubeconfig = kubeconfig
        self.context = context
        self.request_timeout = int(request_timeout)
        self.timeout_bin = timeout_bin

    def base_argv(self, server=None, insecure=False):
        argv = [self.executable, '--kubeconfig', self.kubeconfig]
        if self.context:
            argv += ['--context', self.context]
        if server:
            argv += ['--server', server]
        if insecure:
            argv += ['--insecure-skip-tls-verify=true']
        argv += ['--request-timeout', '%ds' % self.request_timeout]
        return argv

    def run(self, args, server=None, insecure=False, fmt_json=False, budget=None):
        """Run ``kubectl <args>``; return parsed JSON (fmt_json) or stdout text."""
        argv = self.base_argv(server, insecure) + list(args)
        if fmt_json:
            argv += ['-o', 'json']
        # Discovery, then the request, each bounded by --request-timeout; drain brings its own budget.
        budget = budget or 3 * self.request_timeout + 5
        rc, out, err = KUBECTL.run(self._run_command, argv, self.timeout_bin, budget)
        return KUBECTL.parse_json(argv, rc, out, err) if fmt_json else out

    # --------------------------------------------------------------------------------------- reads
    def kubeconfig_server(self):
        """The server URL of the kubeconfig's current context (only that field is printed, never credentials)."""
        out = self.run(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])
        return out.strip() or None

    def health(self, path, server=None, insecure=False):
        """``get --raw /readyz?verbose`` (or livez) against one endpoint -> endpoint health dict.

        Never raises for the answers an apiserver that is down or not ready gives: those are the state the gate
        reports. Raises KubectlError for errors waiting cannot fix (wrong CA, broken kubeconfig).
        """
        try:
            body = self.run(['get', '--raw', path], server=server, insecure=insecure)
        except KubectlError as exc:
            parsed = parse_health_error(exc.stderr)
            if parsed is not None:
                return dict(ok=False, checks=parsed['checks'], failed=parsed['failed'], error=None,
                            http_error=parsed['kind'])
            if isinstance(exc, KubectlTransientError) or '(forbidden)' in exc.stderr.lower():
                return dict(ok=False, checks={}, failed=[], error=exc.said or 'rc=%s' % exc.rc, http_error=None)
            raise
        parsed = parse_health_body(body)
        return dict(ok=not parsed['failed'], checks=parsed['checks'], failed=parsed['failed'], error=None,
                    http_error=None)

    def nodes(self):
        return read_nodes(self.run(['get', 'nodes'], fmt_json=True))

    def node_leases(self):
        """{node: renewTime} of the kubelets' Leases (kube-node-lease), their real heartbeat since 1.17."""
        return read_node_leases(self.run(['get', 'leases', '-n', 'kube-node-lease'], fmt_json=True))

    def pods(self, namespace=None, field_selector=None):
        args = ['get', 'pods'] + (['-n', namespace] if namespace else ['--all-namespaces'])
        if field_selector:
            args += ['--field-selector', field_selector]
        return read_pods(self.run(args, fmt_json=True))

    def pvcs(self):
        return read_pvcs(self.run(['get', 'persistentvolumeclaims', '--all-namespaces'], fmt_json=True))

    def warning_events(self):
        return read_events(self.run(['get', 'events', '--all-namespaces', '--field-selector', 'type=Warning'],
                                    fmt_json=True))

    # --------------------------------------------------------------------------------------- writes
    def cordon(self, nodes):
        return self.run(['cordon'] + list(nodes))

    def uncordon(self, nodes):
        return self.run(['uncordon'] + list(nodes))

    @staticmethod
    def drain_args(node, ignore_daemonsets=True, delete_emptydir_data=False, force=False, grace_period=None,
                   drain_timeout=300, disable_eviction=False):
        args = ['drain', node, '--timeout=%ds' % int(drain_timeout)]
        if ignore_daemonsets:
            args.append('--ignore-daemonsets')
        if delete_emptydir_data:
            args.append('--delete-emptydir-data')
        if force:
            args.append('--force')
        if grace_period is not None:
            args.append('--grace-period=%d' % int(grace_period))
        if disable_eviction:
            args.append('--disable-eviction')
        return args

    def drain(self, node, drain_timeout=300, **options):
        args = self.drain_args(node, drain_timeout=drain_timeout, **options)
        return self.run(args, budget=int(drain_timeout) + 3 * self.request_timeout + 10)

    def drain_all(self, nodes, drain_timeout=300, **options):
        """``kubectl drain`` every node at once, one process per node, each bounded by ``drain_timeout``: the whole
        takes as long as the slowest node, not their sum. Returns [(node, stdout or None, KubectlError or None)] in
        the order of ``nodes``."""
        results = {}

        def one(node):
            try:
                results[node] = (self.drain(node, drain_timeout=drain_timeout, **options), None)
            except KubectlError as exc:
                results[node] = (None, exc)
        threads = [threading.Thread(target=one, args=(node,), name='drain-%s' % node) for node in nodes]
        for t in threads:
            t.daemon = True
            t.start()
        for t in threads:
            t.join()
        lost = (None, KubectlError(['kubectl', 'drain'], None, '', 'the drain ended without a result'))
        return [(node,) + results.get(node, lost) for node in nodes]

    def pdbs(self):
        return read_pdbs(self.run(['get', 'poddisruptionbudgets', '--all-namespaces'], fmt_json=True))

    def delete_pod(self, namespace, name, uid=None):
        # --wait=false: the gate watches the replacement itself; the uid precondition is not offered by
        # kubectl delete, so the caller re-reads the pod right before (a replacement has another name or uid).
        return self.run(['delete', 'pod', '-n', namespace, name, '--wait=false'])


def kubectl_argument_spec():
    """The client options every Kubernetes module shares (documented by the blackstart.cluster.kubectl doc fragment)."""
    return dict(
        kubectl=dict(type='str', default='kubectl'),
        kubeconfig=dict(type='path', default=DEFAULT_KUBECONFIG, no_log=False),
        context=dict(type='str'),
        cli_timeout=dict(type='int', default=10),
    )


def kubectl_from_module(module):
    """Build a KubectlCLI from the module's options, or fail the module naming the bad input.

    Checked before anything runs: kubectl exists, the kubeconfig file exists and is readable (its content is
    never read here: kubectl reads it).
    """
    p = module.params
    exe = p['kubectl']
    path = find_executable(module, exe)
    problems = []
    if not path:
        problems.append('kubectl %r not found (PATH or absolute path): install kubectl on this host, run the task '
                        'on a control-plane host that has it, or set the kubectl option' % exe)
    kc = p['kubeconfig']
    if not kc:
        problems.append('kubeconfig must name a kubeconfig file')
    problems += [text + (' (on a kubeadm control-plane host it is /etc/kubernetes/admin.conf; on the controller use '
                         'delegate_to: localhost and a kubeconfig path there)' if 'does not exist' in text else '')
                 for text in file_problems('kubeconfig', kc, ' (become: true, or a copy readable by this user)')]
    if p['cli_timeout'] < 1:
        problems.append('cli_timeout must be at least 1 second')
    if problems:
        module.fail_json(msg='; '.join(problems))
    return KubectlCLI(module.run_command, executable=path, kubeconfig=kc, context=p['context'],
                      request_timeout=p['cli_timeout'], timeout_bin=module.get_bin_path('timeout'))


# ---------------------------------------------------------------------------------------------------
# Health bodies
# ---------------------------------------------------------------------------------------------------

_CHECK_RE = re.compile(r'^\[([+-])\]([^\s]+) (.*)$')
# client-go's text for a non-2xx answer whose body is not a Status object (kubectl prints it on stderr).
_SERVER_ERROR_RE = re.compile(r'(?:Error from server \((\w+)\): )?an error on the server \("(.*)"\) has prevented '
                              r'the request from succeeding', re.S)


def parse_health_body(body):
    """``/readyz?verbose`` or ``/livez?verbose`` text -> {checks: {name: 'ok'|'failed: …'}, failed: [names]}."""
    checks = {}
    failed = []
    for line in (body or '').splitlines():
        m = _CHECK_RE.match(line.strip())
        if not m:
            continue
        sign, name, rest = m.groups()
        checks[name] = rest
        if sign == '-':
            failed.append(name)
    low = (body or '').strip().lower()
    if not checks and low not in ('ok', '') and not low.endswith('check passed'):
        # Not a health body at all: say so instead of calling it healthy.
        failed.append('unexpected answer: %s' % (body or '').strip()[:200])
    return dict(checks=checks, failed=failed)


def parse_health_error(stderr):
    """kubectl's stderr on HTTP 500 from a health endpoint -> parsed body, or None if it is another error."""
    m = _SERVER_ERROR_RE.search(stderr or '')
    if not m:
        return None
    kind, quoted = m.groups()
    try:
        body = json.loads('"%s"' % quoted)
    except ValueError:
        body = quoted.replace('\\n', '\n')
    parsed = parse_health_body(body)
    if not parsed['checks']:
        return None
    parsed['kind'] = kind or 'InternalError'
    return parsed


def failed_check_lines(health):
    """['[-]etcd failed: reason withheld', …] for a health dict."""
    return ['[-]%s %s' % (name, health['checks'].get(name, 'failed')) if name in health['checks'] else name
            for name in health['failed']]


# ---------------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------------

def parse_k8s_time(value):
    """RFC 3339 times of the Kubernetes API ('2026-11-25T14:24:22Z', with or without fraction) -> epoch s."""
    if not value:
        return None
    text = str(value).strip()
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    m = re.match(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d)$', text)
    if not m:
        raise ValueError('unrecognised Kubernetes timestamp %r' % (value,))
    base, frac, tz = m.groups()
    dt = datetime.datetime.strptime(base + tz.replace(':', ''), '%Y-%m-%dT%H:%M:%S%z')
    return dt.timestamp() + (float(frac) if frac else 0.0)


def read_nodes(data):
    """``get nodes -o json`` -> [{name, ready, unschedulable, conditions: {type: {...}}, taints}]."""
    nodes = []
    for item in data.get('items', []):
        meta = item.get('metadata', {})
        spec = item.get('spec', {}) or {}
        conds = {}
        for c in (item.get('status', {}) or {}).get('conditions', []) or []:
            conds[c.get('type')] = dict(status=c.get('status'), reason=c.get('reason'), message=c.get('message'),
                                        last_heartbeat=parse_k8s_time(c.get('lastHeartbeatTime')),
                                        last_transition=parse_k8s_time(c.get('lastTransitionTime')))
        ready = conds.get('Ready', {}).get('status')
        nodes.append(dict(
            name=meta.get('name'),
            ready=ready or 'Unknown',
            unschedulable=bool(spec.get('unschedulable')),
            conditions=conds,
            taints=['%s:%s' % (t.get('key'), t.get('effect')) for t in spec.get('taints', []) or []],
            deleting=bool(meta.get('deletionTimestamp')),
        ))
    return nodes


def read_node_leases(data):
    """``get leases -n kube-node-lease -o json`` -> {node name: renewTime in epoch seconds}."""
    out = {}
    for item in data.get('items', []):
        spec = item.get('spec') or {}
        renew = parse_k8s_time(spec.get('renewTime'))
        if renew is not None:
            out[(item.get('metadata') or {}).get('name')] = renew
    return out


def with_leases(nodes, leases):
    """Each node's heartbeat: the newer of its Ready condition's lastHeartbeatTime and its Lease's renewTime.

    A real kubelet (>= 1.17) posts an unchanged node status only every 5 minutes (nodeStatusReportFrequency) and
    renews its Lease every 10 s: the Lease is the heartbeat that tells whether it runs.
    """
    for node in nodes:
        ready = node['conditions'].get('Ready')
        renew = leases.get(node['name'])
        node['lease_renew'] = renew
        if ready is not None and renew is not None and (ready['last_heartbeat'] or 0) < renew:
            ready['last_heartbeat'] = renew
            ready['heartbeat_source'] = 'lease'
    return nodes


def _owner_kind(meta):
    for ref in meta.get('ownerReferences', []) or []:
        if ref.get('controller'):
            return ref.get('kind')
    refs = meta.get('ownerReferences') or []
    return refs[0].get('kind') if refs else None


def read_pods(data):
    """``get pods -o json`` -> [{namespace, name, uid, node, phase, waiting, pvcs, owner_kind, ...}]."""
    pods = []
    for item in data.get('items', []):
        meta = item.get('metadata', {})
        spec = item.get('spec', {}) or {}
        status = item.get('status', {}) or {}
        waiting = []
        for cs in (status.get('initContainerStatuses') or []) + (status.get('containerStatuses') or []):
            w = (cs.get('state') or {}).get('waiting')
            if w and w.get('reason'):
                waiting.append(w['reason'])
        scheduled = None
        unschedulable_msg = None
        for c in status.get('conditions') or []:
            if c.get('type') == 'PodScheduled':
                if c.get('status') == 'True':
                    scheduled = parse_k8s_time(c.get('lastTransitionTime'))
                else:
                    unschedulable_msg = c.get('message') or c.get('reason')
        pvcs = [v['persistentVolumeClaim']['claimName'] for v in spec.get('volumes', []) or []
                if v.get('persistentVolumeClaim')]
        pods.append(dict(
            namespace=meta.get('namespace'),
            name=meta.get('name'),
            uid=meta.get('uid'),
            node=spec.get('nodeName'),
            phase=status.get('phase') or 'Pending',
            waiting=waiting,
            created=parse_k8s_time(meta.get('creationTimestamp')),
            scheduled=scheduled,
            unschedulable_message=unschedulable_msg,
            pvcs=pvcs,
            labels=dict(meta.get('labels') or {}),
            owner_kind=_owner_kind(meta),
            mirror='kubernetes.io/config.mirror' in (meta.get('annotations') or {}),
            deleting=bool(meta.get('deletionTimestamp')),
        ))
    return pods


def read_pvcs(data):
    """``get pvc -o json`` -> [{namespace, name, phase, storage_class, volume}]."""
    out = []
    for item in data.get('items', []):
        meta = item.get('metadata', {})
        spec = item.get('spec', {}) or {}
        annotations = meta.get('annotations') or {}
        out.append(dict(
            namespace=meta.get('namespace'),
            name=meta.get('name'),
            uid=meta.get('uid'),
            phase=(item.get('status') or {}).get('phase') or 'Pending',
            storage_class=spec.get('storageClassName') or annotations.get('volume.beta.kubernetes.io/storage-class'),
            volume=spec.get('volumeName'),
            created=parse_k8s_time(meta.get('creationTimestamp')),
        ))
    return out


def read_events(data):
    """``get events -o json`` -> [{namespace, kind, name, uid, reason, message, count, last}] (newest last)."""
    out = []
    for item in data.get('items', []):
        obj = item.get('involvedObject') or item.get('regarding') or {}
        series = item.get('series') or {}
        last = (item.get('lastTimestamp') or series.get('lastObservedTime') or item.get('eventTime')
                or (item.get('metadata') or {}).get('creationTimestamp'))
        out.append(dict(
            namespace=obj.get('namespace') or (item.get('metadata') or {}).get('namespace'),
            kind=obj.get('kind'),
            name=obj.get('name'),
            uid=obj.get('uid'),
            reason=item.get('reason'),
            message=(item.get('message') or item.get('note') or '').strip(),
            type=item.get('type'),
            count=int(item.get('count') or series.get('count') or 1),
            last=parse_k8s_time(last),
        ))
    out.sort(key=lambda e: (e['last'] or 0, e['count']))
    return out


def read_pdbs(data):
    """``get pdb -o json`` -> [{namespace, name, selector, min_available, max_unavailable, current_healthy,
    desired_healthy, disruptions_allowed, expected_pods, generation, observed_generation}] (policy/v1 and v1beta1
    have the same fields). observed_generation is the spec generation the disruption controller last computed the
    status for (omitted by the API while 0); while it lags, the eviction API refuses every pod the budget covers."""
    out = []
    for item in data.get('items', []):
        meta = item.get('metadata') or {}
        spec = item.get('spec') or {}
        status = item.get('status') or {}
        out.append(dict(
            namespace=meta.get('namespace'),
            name=meta.get('name'),
            selector=spec.get('selector'),
            min_available=spec.get('minAvailable'),
            max_unavailable=spec.get('maxUnavailable'),
            current_healthy=status.get('currentHealthy'),
            desired_healthy=status.get('desiredHealthy'),
            disruptions_allowed=status.get('disruptionsAllowed'),
            expected_pods=status.get('expectedPods'),
            generation=meta.get('generation'),
            observed_generation=status.get('observedGeneration', 0 if meta.get('generation') is not None else None),
        ))
    return out


# kubectl drain, each time the eviction API refuses a pod (HTTP 429: a PodDisruptionBudget), before it retries:
#   error when evicting pods/"web-0" -n "shop" (will retry after 5s): Cannot evict pod as it would violate the pod's
#   disruption budget.
# and, when its --timeout passes: error when evicting pods/"web-0" -n "shop": global timeout reached: 2m0s
# (kubectl 1.37 against a real apiserver: tests/unit/fixtures/k8s/upstream/drain_blocked_by_pdb.json)
_EVICT_RE = re.compile(r'error when evicting pods/"([^"]+)" -n "([^"]+)"(?: \(will retry after [^)]*\))?: ([^\]\n]*)')


def parse_eviction_errors(text):
    """kubectl drain's output -> [{pod, namespace, reason}], one per pod (its last reason that names a budget,
    else its last reason), in the order first seen."""
    seen = {}
    for pod, namespace, reason in _EVICT_RE.findall(text or ''):
        key = (namespace, pod)
        reason = reason.strip()
        if key not in seen or 'disruption budget' not in seen[key]:
            seen[key] = reason
    return [dict(pod=k[1], namespace=k[0], reason=v) for k, v in seen.items()]
