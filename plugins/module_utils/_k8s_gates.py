# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What each Kubernetes gate decides from what the readers in _k8s.py return.

Pure functions: no I/O (``now`` is passed in), so every decision is unit-tested on recorded outputs. Each
returns an Observation whose ``missing`` sentences name the thing that is not ready, why, and what to do.
Bad input (a node name the cluster does not have, for the cordon module) raises GateInputError.

Private to the collection (leading underscore).
"""

from __future__ import annotations

from ansible_collections.blackstart.cluster.plugins.module_utils._wait import GateInputError, Observation, same_host

# Events on a pod that mean "its volume cannot be attached or mounted".
MOUNT_EVENT_REASONS = ('FailedMount', 'FailedAttachVolume', 'FailedMapVolume')
# Waiting reasons of a pod's containers that mean "not started yet" (as opposed to crashing).
STARTING_REASONS = ('ContainerCreating', 'PodInitializing')


def _age(now, then):
    if then is None or now is None:
        return None
    return max(0, int(round(now - then)))


def _fmt_age(seconds):
    if seconds is None:
        return 'unknown'
    if seconds < 120:
        return '%ds' % seconds
    if seconds < 7200:
        return '%dm%02ds' % (seconds // 60, seconds % 60)
    return '%dh%02dm' % (seconds // 3600, (seconds % 3600) // 60)


# ----------------------------------------------------------------------------------------------- apiserver

def apiserver_observation(results):
    """``results``: [{endpoint, readyz: health, livez: health or None}] -> ready when every readyz passes."""
    missing = []
    rows = []
    for r in results:
        ready = r['readyz']
        live = r.get('livez')
        row = dict(endpoint=r['endpoint'], ready=ready['ok'], failed_checks=list(ready['failed']),
                   error=ready['error'], live=(live['ok'] if live else None))
        if live and not live['ok']:
            row['livez_failed_checks'] = list(live['failed'])
        rows.append(row)
        if ready['ok']:
            continue
        if ready['error']:
            missing.append('apiserver %s not answering: %s' % (r['endpoint'], ready['error']))
            continue
        failing = ', '.join('[-]%s %s' % (n, ready['checks'].get(n, 'failed')) for n in ready['failed'])
        why = 'apiserver %s not ready: %s' % (r['endpoint'], failing)
        if any(n.startswith('etcd') for n in ready['failed']):
            why += ' (etcd has no quorum or is unreachable from this apiserver: run blackstart.cluster.etcd_wait)'
        if live is not None and not live['ok'] and live['failed']:
            why += '; livez also failing: %s' % ', '.join(live['failed'])
        elif live is not None and live['ok']:
            why += '; livez passes (alive, not ready yet)'
        missing.append(why)
    state = dict(endpoints=rows, ready=[r['endpoint'] for r in rows if r['ready']],
                 not_ready=[r['endpoint'] for r in rows if not r['ready']])
    return Observation(bool(rows) and all(r['ready'] for r in rows), state, missing)


# ----------------------------------------------------------------------------------------------- nodes

def _node_problem(node, now):
    ready = node['conditions'].get('Ready') or {}
    hb = _age(now, ready.get('last_heartbeat'))
    words = 'NotReady' if node['ready'] == 'False' else 'NotReady (Ready=%s)' % node['ready']
    why = '%s: %s' % (ready.get('reason') or 'no Ready condition', (ready.get('message') or '').strip() or 'no message')
    bad = ['%s=%s (%s)' % (t, c['status'], c.get('reason') or '') for t, c in sorted(node['conditions'].items())
           if t != 'Ready' and c['status'] not in ('False',)]
    source = ' (Lease)' if ready.get('heartbeat_source') == 'lease' else ''
    text = 'node %s %s: %s; last heartbeat %s ago%s' % (node['name'], words, why, _fmt_age(hb), source)
    if bad:
        text += '; other conditions: %s' % ', '.join(bad)
    if ready.get('reason') == 'NodeStatusUnknown':
        text += ' (the kubelet stopped posting status: check kubelet and containerd on %s)' % node['name']
    return text, hb


def nodes_observation(nodes, expected=None, now=None):
    """Every expected node (default: all) registered and Ready=True."""
    by_name = dict((n['name'], n) for n in nodes)
    names = list(expected) if expected else sorted(by_name)
    missing = []
    rows = []
    for name in names:
        node = by_name.get(name)
        if node is None:
            missing.append('node %s not registered (nodes: %s): the kubelet on %s has not registered, or the '
                           'name is wrong' % (name, ', '.join(sorted(by_name)) or 'none', name))
            rows.append(dict(name=name, registered=False, ready='Unknown'))
            continue
        ready = node['conditions'].get('Ready') or {}
        row = dict(name=name, registered=True, ready=node['ready'], unschedulable=node['unschedulable'],
                   reason=ready.get('reason'), message=ready.get('message'),
                   heartbeat_age=_age(now, ready.get('last_heartbeat')),
                   lease_age=_age(now, node.get('lease_renew')))
        rows.append(row)
        if node['ready'] != 'True':
            missing.append(_node_problem(node, now)[0])
    if not names:
        missing.append('no node is registered')
    state = dict(nodes=rows, ready=[r['name'] for r in rows if r['ready'] == 'True'],
                 not_ready=[r['name'] for r in rows if r['ready'] != 'True'],
                 unschedulable=[r['name'] for r in rows if r.get('unschedulable')])
    return Observation(bool(names) and not missing, state, missing)


# ----------------------------------------------------------------------------------------------- storage

def _in_scope_pvcs(pvcs, namespaces, storage_classes):
    return [p for p in pvcs
            if (not namespaces or p['namespace'] in namespaces)
            and (not storage_classes or p['storage_class'] in storage_classes)]


def _mount_event(events, pod):
    """The newest FailedMount/FailedAttachVolume event of this pod (by uid when the event has one)."""
    best = None
    for e in events:
        if e['kind'] != 'Pod' or e['reason'] not in MOUNT_EVENT_REASONS:
            continue
        if e['namespace'] != pod['namespace'] or e['name'] != pod['name']:
            continue
        if e['uid'] and pod['uid'] and e['uid'] != pod['uid']:
            continue  # an event of an earlier pod of the same name
        best = e
    return best


def _pvc_problem(pvc, events, now):
    text = 'PVC %s/%s %s (storage class %s)' % (
        pvc['namespace'], pvc['name'], pvc['phase'], pvc['storage_class'] or 'none')
    ev = None
    for e in events:
        if e['kind'] == 'PersistentVolumeClaim' and e['namespace'] == pvc['namespace'] and e['name'] == pvc['name'] \
                and (not e['uid'] or not pvc['uid'] or e['uid'] == pvc['uid']):
            ev = e
    if ev:
        text += ': %s: %s' % (ev['reason'], ' '.join(ev['message'].split()))
    elif pvc['phase'] == 'Pending':
        text += ' for %s: no provisioner event (is the CSI provisioner running, and the storage cluster up?)' % (
            _fmt_age(_age(now, pvc['created'])))
    elif pvc['phase'] == 'Lost':
        text += ': its PersistentVolume is gone'
    return text


def stuck_pods(pods, events, pvc_names, now, grace, namespaces=None, starting=False):
    """Pending pods (using a PVC in scope, or with a mount-failure event) that have a mount-failure event (at any age)
    or have been Pending/ContainerCreating for longer than ``grace`` seconds; with ``starting``, also those using a PVC
    in scope that are still within ``grace`` (their mount has not been shown to work yet)."""
    out = []
    for pod in pods:
        if pod['phase'] != 'Pending' or pod['deleting'] or pod['mirror']:
            continue
        if namespaces and pod['namespace'] not in namespaces:
            continue
        ev = _mount_event(events, pod)
        uses = [c for c in pod['pvcs'] if (pod['namespace'], c) in pvc_names]
        if not uses and not ev:
            continue
        since = pod['scheduled'] or pod['created']
        age = _age(now, since)
        past_grace = age is not None and age > grace
        if not past_grace and not ev and not (starting and uses):
            continue  # still starting, and nothing says it cannot
        if pod['node'] is None:
            how = 'Pending (not scheduled%s)' % (': %s' % pod['unschedulable_message'] if pod['unschedulable_message'] else '')
        elif any(w in STARTING_REASONS for w in pod['waiting']) or not pod['waiting']:
            how = 'ContainerCreating'
        else:
            how = 'Pending (%s)' % ', '.join(pod['waiting'])
        where = ' on %s' % pod['node'] if pod['node'] else ''
        text = 'pod %s/%s%s %s %s %s' % (pod['namespace'], pod['name'], where, 'stuck' if past_grace else 'still', how,
                                         _fmt_age(age))
        if ev:
            text += ': %s: %s' % (ev['reason'], ' '.join(ev['message'].split()))
            if ev['count'] > 1:
                text += ' (x%d)' % ev['count']
        out.append(dict(namespace=pod['namespace'], name=pod['name'], uid=pod['uid'], node=pod['node'], age=age,
                        how=how, past_grace=past_grace, reason=ev['reason'] if ev else None, message=ev['message'] if ev else None,
                        owner_kind=pod['owner_kind'], pvcs=uses, text=text))
    return out


def _key(obj):
    return '%s/%s' % (obj['namespace'], obj['name'])


def storage_observation(pvcs, pods, events, now, grace=60, namespaces=None, storage_classes=None, pods_running=True,
                        ignore=(), absent_nodes=()):
    """PVCs in scope Bound; no pod using them with a mount-failure event, or Pending past ``grace`` seconds; with
    ``pods_running``, no pod using them Pending at all (only a started pod proves its volumes mount).

    ``ignore`` (``namespace/name``): claims and pods that were not Bound / not started before (a baseline); they are
    not waited on, nor is a pod whose claims in scope are all ignored (it cannot start either; a controller's
    replacement pod has another name than the one recorded). Pods on a node of ``absent_nodes`` are not waited on.
    Both are reported: ``state['ignored']``, ``state['on_absent_nodes']``. ``state['pvcs_not_bound']`` and
    ``state['pods_not_started']`` list, as observed and whatever is ignored, every claim in scope not Bound and every
    pod the gate considers (using a claim in scope, or with a mount-failure event) that has not started.
    Returns (Observation, the stuck pods waited on).
    """
    ignore = set(ignore or ())
    scope = _in_scope_pvcs(pvcs, namespaces, storage_classes)
    names = set((p['namespace'], p['name']) for p in scope)
    ignored_claims = set((p['namespace'], p['name']) for p in scope if _key(p) in ignore)
    not_bound = [p for p in scope if p['phase'] != 'Bound']
    candidates = stuck_pods(pods, events, names, now, grace, namespaces, starting=True)
    if storage_classes:
        # Only pods of the classes asked about; a mount event alone does not bring a pod into scope.
        candidates = [c for c in candidates if c['pvcs']]
    ignored = [_key(p) for p in not_bound if _key(p) in ignore]
    unbound = [p for p in not_bound if _key(p) not in ignore]
    stuck = []
    on_absent = []
    for pod in candidates:
        if _key(pod) in ignore or (pod['pvcs'] and all((pod['namespace'], c) in ignored_claims for c in pod['pvcs'])):
            ignored.append(_key(pod))
        elif pod['node'] and any(same_host(pod['node'], n) for n in absent_nodes or ()):
            on_absent.append(_key(pod))
        elif pods_running or pod['past_grace'] or pod['reason']:
            stuck.append(pod)
    missing = [_pvc_problem(p, events, now) for p in unbound] + [s['text'] for s in stuck]
    state = dict(
        pvcs_total=len(scope),
        pvcs_bound=len(scope) - len(not_bound),
        unbound_pvcs=[dict(namespace=p['namespace'], name=p['name'], phase=p['phase'],
                           storage_class=p['storage_class']) for p in unbound],
        stuck_pods=[dict((k, s[k]) for k in ('namespace', 'name', 'node', 'age', 'how', 'past_grace', 'reason',
                                             'message'))
                    for s in stuck],
        pvcs_not_bound=[_key(p) for p in not_bound],
        pods_not_started=[_key(c) for c in candidates],
        ignored=ignored,
        on_absent_nodes=on_absent,
    )
    return Observation(not missing, state, missing), stuck


# ----------------------------------------------------------------------------------------------- cordon

def drainable_pods(pods, node):
    """Pods ``kubectl drain`` would evict from ``node``: not DaemonSet-owned, not mirror, not finished."""
    return [p for p in pods if p['node'] == node and p['owner_kind'] != 'DaemonSet' and not p['mirror']
            and p['phase'] not in ('Succeeded', 'Failed') and not p['deleting']]


def cordon_plan(nodes, wanted, state, pods=None):
    """What to do for ``state`` (cordoned, drained, uncordoned) on the ``wanted`` node names.

    Returns dict(to_cordon, to_drain, to_uncordon, already_unschedulable, already_schedulable). Unknown names
    raise GateInputError: a typo must not silently leave a node schedulable.
    """
    by_name = dict((n['name'], n) for n in nodes)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise GateInputError('node %s not found in the cluster (nodes: %s): check the nodes option (Kubernetes '
                             'node names, as `kubectl get nodes` shows them)'
                             % (', '.join(unknown), ', '.join(sorted(by_name)) or 'none'))
    plan = dict(to_cordon=[], to_drain=[], to_uncordon=[], already_unschedulable=[], already_schedulable=[])
    for name in wanted:
        node = by_name[name]
        if state == 'uncordoned':
            if node['unschedulable']:
                plan['to_uncordon'].append(name)
            else:
                plan['already_schedulable'].append(name)
            continue
        if node['unschedulable']:
            plan['already_unschedulable'].append(name)
        else:
            plan['to_cordon'].append(name)
        if state == 'drained' and drainable_pods(pods or [], name):
            plan['to_drain'].append(name)
    return plan


def selector_matches(selector, labels):
    """A LabelSelector (matchLabels, matchExpressions) against a pod's labels. A null selector matches nothing; an
    empty one (``{}``) matches every pod (policy/v1)."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get('matchLabels') or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get('matchExpressions') or []:
        key, op, values = expr.get('key'), expr.get('operator'), expr.get('values') or []
        if op == 'In' and labels.get(key) not in values:
            return False
        if op == 'NotIn' and key in labels and labels[key] in values:
            return False
        if op == 'Exists' and key not in labels:
            return False
        if op == 'DoesNotExist' and key in labels:
            return False
    return True


def _pdb_terms(pdb):
    spec = []
    if pdb['min_available'] is not None:
        spec.append('minAvailable %s' % pdb['min_available'])
    if pdb['max_unavailable'] is not None:
        spec.append('maxUnavailable %s' % pdb['max_unavailable'])
    status = ', '.join('%s %s' % (k, pdb[f]) for k, f in (('currentHealthy', 'current_healthy'),
                                                          ('desiredHealthy', 'desired_healthy'),
                                                          ('disruptionsAllowed', 'disruptions_allowed'),
                                                          ('expectedPods', 'expected_pods')) if pdb[f] is not None)
    return '; '.join(t for t in (', '.join(spec), status) if t)


# While a budget's status lags its spec (observedGeneration < generation: the disruption controller in
# kube-controller-manager has not computed it since the budget changed, or is not running), the eviction API answers
# HTTP 429 with Retry-After 10 s; client-go retries that by itself until kubectl's --request-timeout, so kubectl drain
# says only this (measured with kubectl 1.37.2 and kube-controller-manager stopped:
# tests/unit/fixtures/k8s/upstream/drain_pdb_status_lags.json).
_HELD_REASONS = ('context deadline exceeded', 'client.timeout exceeded')


def eviction_may_be_budget(reason):
    """Could this eviction failure be a PodDisruptionBudget's doing (so that the budgets are worth reading)?"""
    low = reason.lower()
    return 'disruption budget' in low or any(r in low for r in _HELD_REASONS)


def _pdb_lags(pdb):
    gen, seen = pdb.get('generation'), pdb.get('observed_generation')
    return gen is not None and seen is not None and seen < gen


def drain_refusals(node, evictions, pods, pdbs, pdb_error=None):
    """What stopped ``kubectl drain`` on ``node``: ``evictions`` from parse_eviction_errors, ``pods`` from read_pods
    (for the labels), ``pdbs`` from read_pdbs (None when they could not be read: ``pdb_error`` says why).

    Returns (blocked, sentences): blocked = [{node, pod, namespace, pdb}] for each pod a PodDisruptionBudget kept
    (``pdb`` its name, several joined with ``,`` - the eviction API refuses a pod matched by more than one - or None
    when not found); one sentence per pod not evicted, naming the budget, its numbers and what to do.
    """
    by_key = dict(((p['namespace'], p['name']), p) for p in pods or [])
    blocked = []
    sentences = []
    for ev in evictions:
        ns, name = ev['namespace'], ev['pod']
        pod = by_key.get((ns, name))
        matched = [b for b in pdbs or [] if b['namespace'] == ns and pod is not None
                   and selector_matches(b['selector'], pod.get('labels'))]
        lagging = [b for b in matched if _pdb_lags(b)]
        refused = 'disruption budget' in ev['reason'].lower()
        if not refused and not (lagging and eviction_may_be_budget(ev['reason'])):
            sentences.append('pod %s/%s on %s was not evicted: %s' % (ns, name, node, ev['reason']))
            continue
        blocked.append(dict(node=node, pod=name, namespace=ns,
                            pdb=','.join(b['name'] for b in matched) if matched else None))
        text = 'pod %s/%s on %s cannot be evicted: ' % (ns, name, node)
        if lagging:
            b = lagging[0]
            text += ('PodDisruptionBudget %s/%s (%s, a status computed for generation %s) changed since the disruption '
                     'controller last computed its status (generation %s), and the eviction API refuses every pod it '
                     'covers until then%s. Check that kube-controller-manager is running (kubectl -n kube-system get '
                     'pods -l component=kube-controller-manager) and drain again, or power off with '
                     'blackstart_emergency=true (cordons without draining; the pods stop with their hosts)'
                     % (ns, b['name'], _pdb_terms(b), b['observed_generation'], b['generation'],
                        '' if refused else ' (kubectl gave up waiting: %s)' % ev['reason']))
            sentences.append(text)
            continue
        if matched:
            text += '; '.join('PodDisruptionBudget %s/%s (%s) allows no disruption now' % (ns, b['name'], _pdb_terms(b))
                              for b in matched)
            fix = 'relax the PDB (kubectl -n %s edit pdb %s)' % (ns, matched[0]['name'])
        else:
            why = pdb_error or ('no PodDisruptionBudget of %s matches its labels now' % ns if pod is not None
                                else 'the pod was not in the list read before the drain')
            text += 'a PodDisruptionBudget refuses it (%s; see kubectl -n %s get pdb)' % (why, ns)
            fix = 'relax the PDB (kubectl -n %s edit pdb NAME)' % ns
        text += ('. Scale its workload up so that the budget allows one pod down, %s, or power off with '
                 'blackstart_emergency=true (cordons without draining; the pods stop with their hosts)' % fix)
        sentences.append(text)
    return blocked, sentences
