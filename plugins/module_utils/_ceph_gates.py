# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What each Ceph gate decides from what the readers in _ceph.py return.

Pure functions: no I/O, so every decision is unit-tested on real captured outputs. Each returns an
Observation whose ``missing`` sentences name the thing that is not ready, why, and what to do.
Bad input (a filesystem or mon that does not exist) raises GateInputError: waiting would not fix it.

Private to the collection (leading underscore).
"""

from __future__ import annotations

import datetime

from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import SEVERITY_ORDER
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import (
    GateError, GateInputError, Observation, same_host)


# ----------------------------------------------------------------------------------------------- quorum

ABSENT_HINT = ('if its host is not coming back, pass the host in blackstart_absent_hosts (the absent_mons option) to '
               'go on with the other mons')


def absent_in(names, absent):
    """The names of ``names`` that ``absent`` (host or mon names; exact or short-name match) declares absent."""
    return [n for n in names if any(same_host(n, a) for a in absent or ())]


def quorum_impossible(monmap, absent):
    """A GateError naming the mons when the mons not declared absent cannot form a majority of ``monmap``, else None."""
    gone = absent_in(monmap, absent)
    left = [m for m in monmap if m not in gone]
    need = len(monmap) // 2 + 1
    if not monmap or len(left) >= need:
        return None
    return GateError('quorum impossible: with mon.%s absent, %s of the %d mons of the monmap remain (%s) and a quorum '
                     'needs %d: bring back %d of mon.%s, or remove the dead mons from the monmap (ceph-mon '
                     '--extract-monmap / monmaptool --rm / --inject-monmap on a surviving mon host)'
                     % (', mon.'.join(gone), len(left), len(monmap), ', '.join(left) or 'none', need, need - len(left),
                        ', mon.'.join(gone)))


def quorum_observation(quorum, mons=None, min_mons=None, absent_mons=()):
    """All expected mons in quorum (default: every mon of the monmap), or at least ``min_mons`` of them.

    ``absent_mons`` (mon or host names) may stay out of quorum; the others must be in it and must be a majority
    of the monmap, else the gate ends at once: waiting cannot make a quorum.
    """
    monmap = quorum['mons']
    unknown = [m for m in (mons or []) if m not in monmap]
    if unknown:
        raise GateInputError('mon %s not in the monmap (mons: %s): check the mon names (they are the mon ids, '
                             'often the short host names)' % (', '.join(unknown), ', '.join(monmap)))
    impossible = quorum_impossible(monmap, absent_mons)
    if impossible:
        raise impossible
    absent = absent_in(monmap, absent_mons)
    expected = [m for m in (mons or monmap) if m not in absent]
    in_quorum = [m for m in expected if m in quorum['quorum']]
    out = [m for m in expected if m not in quorum['quorum']]
    if min_mons:
        ready = len(in_quorum) >= min_mons
    else:
        ready = bool(expected) and not out
    missing = []
    if not ready:
        missing = ['mon.%s is not in quorum (quorum: %s): %s' % (m, ','.join(quorum['quorum']) or 'none', ABSENT_HINT)
                   for m in out]
        if min_mons:
            missing.insert(0, '%d of the expected mons in quorum, want %d' % (len(in_quorum), min_mons))
    degraded = ['mon.%s absent, not waited on (%s)' % (m, 'in quorum' if m in quorum['quorum'] else 'out of quorum')
                for m in absent]
    state = dict(mons=monmap, quorum=quorum['quorum'], leader=quorum['leader'], out_of_quorum=out,
                 absent_mons=absent, degraded=degraded)
    return Observation(ready, state, missing)


def no_quorum_missing(expected, error, absent_mons=()):
    """What to say when the CLI cannot even read the monmap (no quorum, or no mon answering)."""
    waiting = [m for m in expected or [] if not absent_in([m], absent_mons)]
    who = ', '.join('mon.%s' % m for m in waiting) if waiting else 'every mon of the monmap'
    said = (error.stderr.splitlines() or ['no output'])[-1]
    text = 'no quorum: `ceph quorum_status` got no answer (rc=%s: %s); waiting for %s: start ceph-mon on a ' \
           'majority of mon hosts and check their clocks and network' % (error.rc, said, who)
    if absent_mons:
        text += ' (declared absent: %s)' % ', '.join(absent_mons)
    return text + '; if a mon host is not answering and will not come back, pass it in blackstart_absent_hosts ' \
        '(the absent_mons option): the other mons must still be a majority'


# ----------------------------------------------------------------------------------------------- OSDs

def _osd_name(osd, hosts):
    host = hosts.get(osd['id'])
    return 'osd.%d on %s' % (osd['id'], host) if host else 'osd.%d' % osd['id']


# What `ceph tell osd.N status` says of a daemon that runs and serves (``unknown``: a release without that command,
# whose daemon answered `version`).
OSD_SERVING = ('active', 'unknown')


def expected_down_reasons(ids, hosts, expect_down=(), absent_hosts=()):
    """{osd id: why it may stay down} for the OSDs of ``ids`` named in ``expect_down`` or on an absent host."""
    reasons = {}
    wanted = set(int(i) for i in expect_down or ())
    for osd_id in ids:
        host = hosts.get(osd_id)
        absent = [h for h in absent_hosts or () if same_host(host, h)]
        if absent:
            reasons[osd_id] = 'its host %s is absent' % absent[0]
        elif osd_id in wanted:
            reasons[osd_id] = 'it was down or out before'
    return reasons


def _stale_why(osd, name, since_epoch, since, epoch_time):
    """Why "up" in the map is not evidence for this OSD, or None when it booted after the reference point."""
    if since_epoch is not None:
        if osd['up_from'] <= since_epoch:
            return ('%s is "up" in the map but has not booted since epoch %d (up_from %d)'
                    % (name, since_epoch, osd['up_from']))
        return None
    if since is not None:
        t = epoch_time(osd['up_from'])
        if t is None or t < since:
            return '%s is "up" in the map but was marked up before %s (up_from epoch %d)' % (
                name, _fmt_time(since), osd['up_from'])
        return None
    # No reference point: the map alone is no evidence (stale "up" after a hard power loss for 900 s, or nodown).
    return '%s is "up" in the map (no since/since_epoch given, so only its daemon can prove it runs)' % name


def osd_observation(dump, hosts, osds=None, since_epoch=None, since=None, epoch_time=None, require_in=True,
                    daemon_state=None, expect_down=(), absent_hosts=()):
    """Every expected OSD up (and in) with fresh evidence that its daemon runs.

    The osdmap lies in two cases measured on Ceph 16.2: with ``nodown`` set, stopped OSDs stay "up"; after a
    whole-cluster hard power loss nobody reports the dead OSDs for 900 s. So "up" counts only when the OSD
    (re)booted after the reference point: ``since_epoch`` (an osdmap epoch recorded before the OSDs were
    stopped) or ``since`` (epoch seconds, e.g. the mon host's boot time; ``epoch_time(e)`` says when osdmap
    epoch ``e`` was written), or when its daemon says so itself.

    An OSD "up" without that evidence - and every "up" OSD when neither ``since_epoch`` nor ``since`` is given - is
    asked itself (``daemon_state(id)``, the state ``ceph tell osd.N status`` reports, None when it does not answer).
    An ``active`` daemon counts: it runs. A daemon that does not answer does not run: the gate never passes on the
    map alone. A daemon that answers but is ``booting`` is stuck: it rebooted with the address the map still shows
    "up" (a container's deterministic PID makes the same nonce), the mons took its boot for a duplicate and will
    only notice after mon_osd_report_timeout (900 s); restarting it (a new process, a new address) lets it boot.
    Those ids are in ``state['stuck_booting']``.

    OSDs in ``expect_down``, or whose host (``hosts``, from the CRUSH tree) is in ``absent_hosts``, may stay down
    and out: they are not waited on, they are listed in ``state['expected_down']`` and described in
    ``state['degraded']``. An id of ``expect_down`` that is no longer in the map is left out.
    ``state['down']`` and ``state['out']`` list every OSD of the map that is down / out as the map says (a baseline
    recorded before a power-off), ``state['not_running']`` those "up" in the map whose daemon did not answer.
    """
    by_id = dict((o['id'], o) for o in dump['osds'] if o['exists'])
    if osds:
        unknown = [i for i in osds if i not in by_id]
        if unknown:
            raise GateInputError('osd.%s not in the osdmap (OSDs: %s): check the expected OSD ids'
                                 % (', osd.'.join(str(i) for i in unknown), ', '.join(str(i) for i in sorted(by_id))))
        chosen = list(osds)
    else:
        chosen = sorted(by_id)
    excused = expected_down_reasons(chosen, hosts, expect_down, absent_hosts)
    expected = [by_id[i] for i in chosen if i not in excused]
    flags = dump['flags']
    missing = []
    rows = []
    stuck = []
    silent = []
    for osd in expected:
        name = _osd_name(osd, hosts)
        fresh = osd['up']
        why = None
        said = None
        if not osd['up']:
            why = '%s is down (marked down at epoch %d)' % (name, osd['down_at']) if osd['down_at'] else '%s is down' % name
        else:
            stale = _stale_why(osd, name, since_epoch, since, epoch_time)
            if stale:
                said = daemon_state(osd['id']) if daemon_state else None
                if said is None:
                    fresh = False
                    silent.append(osd['id'])
                    why = stale + ': its daemon does not answer, it is not running'
                    if 'nodown' in flags:
                        why += ' (nodown is set: the map keeps stopped OSDs "up")'
                    why += '; start it on its host (systemctl start ceph-osd@%d)' % osd['id']
                elif said not in OSD_SERVING:
                    fresh = False
                    stuck.append(osd['id'])
                    why = (stale + ': its daemon runs but is stuck %s - the mons took its boot for a duplicate of its '
                           'previous life; restart the daemon on its host (a new process boots with a new address)'
                           % said)
        if fresh and require_in and not osd['in']:
            why = '%s is up but out: run `ceph osd in %d` once it is healthy' % (name, osd['id'])
        if why:
            missing.append(why)
        rows.append(dict(id=osd['id'], host=hosts.get(osd['id']), up=osd['up'], up_from=osd['up_from'],
                         fresh=fresh, daemon_state=said, **{'in': osd['in']}))
    if 'noup' in flags and any(not o['up'] for o in expected):
        missing.append('noup is set: booting OSDs stay down until `ceph osd unset noup`')
    degraded = []
    for osd_id in sorted(excused):
        osd = by_id[osd_id]
        now = '%s and %s' % ('up' if osd['up'] else 'down', 'in' if osd['in'] else 'out')
        degraded.append('%s is %s, not waited on: %s' % (_osd_name(osd, hosts), now, excused[osd_id]))
    ready = bool(expected or excused) and not missing
    if not by_id:
        missing.append('no OSD exists in the osdmap')
    state = dict(epoch=dump['epoch'], flags=sorted(flags), osds=rows,
                 num_up=sum(1 for r in rows if r['up']), num_fresh=sum(1 for r in rows if r['fresh']),
                 num_in=sum(1 for r in rows if r['in']), num_expected=len(rows), stuck_booting=stuck,
                 expected_down=sorted(excused), degraded=degraded,
                 down=sorted(i for i, o in by_id.items() if not o['up']),
                 out=sorted(i for i, o in by_id.items() if not o['in']),
                 not_running=sorted(silent))
    return Observation(ready, state, missing)


def _fmt_time(epoch_seconds):
    return datetime.datetime.fromtimestamp(epoch_seconds, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


# ----------------------------------------------------------------------------------------------- MDS

def mds_needs_flags(fsmap):
    """True when a rank sits in up:replay: then the OSD flags are worth reading (pause blocks replay)."""
    return any(r['state'] == 'up:replay' for fs in fsmap['filesystems'] for r in fs['ranks'].values())


def mds_needs_quorum_age(fsmap):
    """True when a rank looks up:active: then how long the mons have been up decides whether to believe it."""
    return any(r['state'] == 'up:active' and not r.get('laggy_since')
               for fs in fsmap['filesystems'] for r in fs['ranks'].values())


def inactive_pgs(pgs):
    """{state: count} of the PGs that are not active (an MDS in replay cannot read its journal from them)."""
    if not pgs:
        return {}
    return dict((k, v) for k, v in pgs['by_state'].items() if 'active' not in k.split('+'))


def mds_observation(fsmap, filesystems=None, min_standby=0, flags=None, quorum_age=None, beacon_grace=15, pgs=None):
    """Every named filesystem (default: all) has all its ranks up:active; at least ``min_standby`` standbys.

    Restarted mons know nothing of the MDS beacons sent before: a dead MDS stays up:active, not even laggy,
    until ``mds_beacon_grace`` passes without a beacon (measured: the first fsmap after a whole-cluster power
    loss showed the dead MDS active). So an active rank counts only once the quorum is older than that.
    """
    by_name = dict((fs['name'], fs) for fs in fsmap['filesystems'])
    if filesystems:
        unknown = [n for n in filesystems if n not in by_name]
        if unknown:
            raise GateInputError('filesystem %s does not exist (filesystems: %s)'
                                 % (', '.join(unknown), ', '.join(sorted(by_name)) or 'none'))
        chosen = [by_name[n] for n in filesystems]
    else:
        chosen = [by_name[n] for n in sorted(by_name)]
    flags = flags or set()
    missing = []
    rows = []
    for fs in chosen:
        name = fs['name']
        problems = []
        if not fs['joinable']:
            problems.append('fs %s is not joinable (ceph fs fail / fs set down): run `ceph fs set %s joinable true`'
                            % (name, name))
        if fs['max_mds'] == 0:
            problems.append('fs %s is down (max_mds 0): run `ceph fs set %s down false`' % (name, name))
        for rank in sorted(set(fs['in']) | set(fs['failed']) | set(fs['damaged'])):
            holder = fs['ranks'].get(rank)
            if rank in fs['damaged']:
                problems.append('fs %s rank %d is damaged: check the journal (cephfs-journal-tool), then run '
                                '`ceph mds repaired %s:%d`' % (name, rank, name, rank))
            elif rank in fs['failed'] or holder is None:
                problems.append('fs %s rank %d has failed: no MDS holds it (%d standby): start ceph-mds on an MDS '
                                'host (systemctl reset-failed / start / enable ceph-mds@HOST)'
                                % (name, rank, len(fsmap['standbys'])))
            elif holder.get('laggy_since'):
                problems.append('fs %s rank %d: mds.%s is %s in the map but laggy since %s (no beacon: its daemon is '
                                'not running, as after a power loss): start ceph-mds on an MDS host'
                                % (name, rank, holder['name'], holder['state'], holder['laggy_since']))
            elif holder['state'] != 'up:active':
                text = 'fs %s rank %d on mds.%s is %s' % (name, rank, holder['name'], holder['state'])
                stuck = inactive_pgs(pgs) if holder['state'] == 'up:replay' else {}
                if holder['state'] == 'up:replay' and 'pause' in flags:
                    text += ': the MDS is in replay while the pause flag is set: unset pause'
                elif stuck:
                    text += (': %d PGs are not active (%s), so it cannot read its journal: an OSD is down or stuck '
                             '(see the OSD gate, `ceph pg dump_stuck inactive`)'
                             % (sum(stuck.values()), ', '.join('%d %s' % (n, k) for k, n in sorted(stuck.items()))))
                problems.append(text)
        if fs['max_mds'] and len(fs['ranks']) < fs['max_mds'] and not problems:
            problems.append('fs %s has %d of %d ranks up' % (name, len(fs['ranks']), fs['max_mds']))
        missing.extend(problems)
        rows.append(dict(name=name, max_mds=fs['max_mds'], joinable=fs['joinable'], active=not problems,
                         ranks=dict((str(r), '%s %s' % (v['name'], v['state'])) for r, v in sorted(fs['ranks'].items())),
                         failed=fs['failed'], damaged=fs['damaged'], standby_replay=fs['standby_replay']))
    if quorum_age is not None and quorum_age < beacon_grace and not missing:
        missing.append('the mons formed their quorum %ss ago: an MDS that died with the power still looks up:active '
                       'until mds_beacon_grace (%ss) passes without its beacon; waiting before believing it'
                       % (quorum_age, beacon_grace))
    if len(fsmap['standbys']) < min_standby:
        missing.append('%d standby MDS, want %d: start more ceph-mds daemons' % (len(fsmap['standbys']), min_standby))
    state = dict(filesystems=rows, standbys=fsmap['standbys'], pause='pause' in flags)
    return Observation(not missing, state, missing)


# ----------------------------------------------------------------------------------------------- health

def health_observation(health, status='HEALTH_OK', ignore=(), pg=None, pg_want='clean'):
    """Health no worse than ``status`` once ``ignore``d and muted checks are left out; with ``pg``, (where the release
    says) pg_ready and every PG active+clean, or with ``pg_want='active'`` every PG active (clean or not)."""
    limit = SEVERITY_ORDER[status]
    counted = dict((c, chk) for c, chk in health['checks'].items() if c not in ignore and not chk['muted'])
    if health['checks'] or health['status'] == 'HEALTH_OK':
        worst = max([SEVERITY_ORDER.get(chk['severity'], 2) for chk in counted.values()] or [0])
    else:
        worst = SEVERITY_ORDER.get(health['status'], 2)  # a status with no checks listed: take it as it is
    missing = ['%s %s: %s' % (chk['severity'], code, chk['summary'])
               for code, chk in sorted(counted.items()) if SEVERITY_ORDER.get(chk['severity'], 2) > limit]
    if worst > limit and not missing:
        missing.append('health is %s' % health['status'])
    state = dict(status=health['status'], checks=dict((c, dict(severity=v['severity'], summary=v['summary']))
                                                      for c, v in health['checks'].items()),
                 ignored=sorted(c for c in health['checks'] if c in ignore),
                 raised=sorted(health['checks']))
    if pg is not None:
        state['pgs'] = dict(pg_ready=pg['pg_ready'], num_pgs=pg['num_pgs'], by_state=pg['by_state'])
        if pg['pg_ready'] is False:
            missing.append('pg_ready is false: the mgr has no fresh PG statistics yet (OSDs not reporting)')
        elif pg_want == 'active':
            if not pg['all_active']:
                bad = ', '.join('%d %s' % (n, s) for s, n in sorted(pg['inactive'].items()))
                missing.append('%s PGs not active: %s (an OSD holding them is down or stuck: see the OSD gate, '
                               '`ceph pg dump_stuck inactive`)' % (sum(pg['inactive'].values()) or 'no', bad or 'no PGs'))
        elif not pg['all_clean']:
            bad = ', '.join('%d %s' % (n, s) for s, n in sorted(pg['unclean'].items()))
            missing.append('%s PGs not active+clean: %s' % (sum(pg['unclean'].values()) or 'no', bad or 'no PGs'))
    return Observation(not missing, state, missing)
