# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the etcd gate decides from what the readers in _etcd.py return. Pure functions, no I/O.

Private to the collection (leading underscore).
"""

from __future__ import annotations

from ansible_collections.blackstart.cluster.plugins.module_utils._wait import GateInputError, Observation


def _member_label(m):
    url = m['client_urls'][0] if m['client_urls'] else (m['peer_urls'][0] if m['peer_urls'] else '?')
    return 'etcd member %s (%s)' % (m['name'] or m['id'], url)


def member_endpoints(members):
    """The client URL of every started member, in member-list order (one per member)."""
    return [m['client_urls'][0] for m in members if m['client_urls']]


def etcd_observation(members, health, status, expected=None):
    """Every expected member (default: all) healthy, and a leader elected that every answering member agrees on.

    ``health`` and ``status`` are keyed by client URL (the readers' output for the members' endpoints).
    """
    names = [m['name'] for m in members if m['name']]
    if expected:
        unknown = [n for n in expected if n not in names]
        if unknown:
            raise GateInputError('etcd member %s not in the member list (members: %s): check the members option '
                                 '(the etcd --name of each member)' % (', '.join(unknown), ', '.join(names) or 'none'))
        wanted = [m for m in members if m['name'] in expected]
    else:
        wanted = list(members)
    missing = []
    rows = []
    leaders = set()
    for m in members:
        url = m['client_urls'][0] if m['client_urls'] else None
        st = status.get(url) or {}
        if st.get('leader') and not st.get('errors'):
            leaders.add(st['leader'])
    by_id = dict((m['id'], m) for m in members)
    for m in wanted:
        url = m['client_urls'][0] if m['client_urls'] else None
        h = health.get(url) if url else None
        st = status.get(url) or {}
        row = dict(name=m['name'], id=m['id'], endpoint=url, healthy=bool(h and h['healthy']),
                   error=(h or {}).get('error'), leader=st.get('leader'), raft_term=st.get('raft_term'),
                   is_leader=bool(st.get('member_id') and st.get('member_id') == st.get('leader')),
                   version=st.get('version'))
        rows.append(row)
        if not m['started']:
            missing.append('etcd member %s (peer %s) was added but has never started: start etcd on that host with '
                           '--initial-cluster-state existing' % (m['id'], ', '.join(m['peer_urls'])))
            continue
        if h is None:
            missing.append('%s was not checked (no answer for %s)' % (_member_label(m), url))
        elif not h['healthy']:
            why = h['error'] or 'unhealthy'
            if st.get('errors'):
                why += ' (status: %s)' % '; '.join(st['errors'])
            elif st.get('error'):
                why += ' (status: %s)' % st['error']
            missing.append('%s unhealthy: %s' % (_member_label(m), why))
    leader = None
    if len(leaders) == 1:
        lid = next(iter(leaders))
        leader = by_id[lid]['name'] if lid in by_id and by_id[lid]['name'] else lid
    elif len(leaders) > 1:
        missing.append('members disagree on the leader (%s): an election is in progress' % ', '.join(sorted(leaders)))
    healthy = sum(1 for m in members if (health.get(m['client_urls'][0]) if m['client_urls'] else None)
                  and health[m['client_urls'][0]]['healthy'])
    quorum = len(members) // 2 + 1
    if not leaders:
        errs = sorted(set(e for s in status.values() for e in (s.get('errors') or [])))
        missing.append('no etcd leader elected (%d of %d members healthy, quorum needs %d)%s: start etcd on a '
                       'majority of members' % (healthy, len(members), quorum,
                                                '; members say: %s' % ', '.join(errs) if errs else ''))
    state = dict(members=rows, leader=leader, healthy=healthy, total=len(members), quorum=quorum,
                 has_quorum=healthy >= quorum and bool(leaders),
                 unhealthy=[r['name'] or r['id'] for r in rows if not r['healthy']])
    return Observation(bool(wanted) and not missing, state, missing)


def no_member_list_missing(endpoints, error, health):
    """What to say when no endpoint could even list the members."""
    said = error.said or '%s, rc=%s' % (error.reason, error.rc)
    text = 'could not read the etcd member list from %s (%s)' % (', '.join(endpoints), said)
    bad = ['%s: %s' % (ep, h['error'] or 'unhealthy') for ep, h in sorted(health.items()) if not h['healthy']]
    if bad:
        text += '; endpoint health: %s' % '; '.join(bad)
    if len(endpoints) == 1:
        text += '; only one endpoint is asked: give every member\'s client URL in endpoints so another one can answer'
    return text
