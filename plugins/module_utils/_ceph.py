# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Everything blackstart says to Ceph goes through this file.

Two halves:

* :class:`CephCLI` runs the ``ceph`` command-line tool with an argument list, ``-f json``, ``LC_ALL=C``
  and three bounds (the connect timeout, the per-operation RADOS timeouts, and an outer ``timeout(1)``),
  because measured on Ceph 16.2: ``--connect-timeout`` bounds only the connection, mgr commands hang
  forever with no active mgr, and a client that connected just before quorum was lost hangs too.
  It returns parsed JSON or raises :class:`CephCommandError` naming the command, rc, stderr and a hint.
  Secrets never reach the command line: the user and the *path* of a keyring file are passed, not a key.

* ``read_*`` functions turn the JSON of one command into small plain dicts. They accept the shapes of
  every release from Jewel (10.2) to Tentacle (20.2) that we have samples of (see
  tests/unit/fixtures/ceph-releases): nested or flat ``osdmap``, ``checks`` or Jewel ``summary`` health,
  ``flags_set`` or the ``flags`` string, ``flags_state`` or the mdsmap flag bits, ``pg_summary`` or flat.

Private to the collection (leading underscore).
"""

from __future__ import annotations

import datetime

from ansible_collections.blackstart.cluster.plugins.module_utils._cli import (
    CommandError, Tool, file_problems, find_executable, is_transient_failure)
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import TransientError

# ---------------------------------------------------------------------------------------------------
# Running the CLI
# ---------------------------------------------------------------------------------------------------

# Flags `ceph osd set` accepts that a power cycle may use. `pause` is the pair pauserd+pausewr.
OSD_FLAGS = ('noout', 'norecover', 'norebalance', 'nobackfill', 'nodown', 'pause', 'noup', 'noscrub',
             'nodeep-scrub', 'noin')

# stderr fragments that mean "the cluster is not reachable or not ready yet": retry, don't fail.
# ("error connecting to the cluster" alone is not one: Ceph prints it for a wrong key (errno 13) and a
# missing keyring (errno 2) too; the errno decides.)
_TRANSIENT_MARKERS = (
    'timed out',
    'etimedout',
    'errno 110',
    'connection refused',
    'econnrefused',
    'errno 111',
    'ehostunreach',
    'no route to host',
    'eagain',
    'resource temporarily unavailable',
)
# ...unless one of these says waiting will not help.
_PERMANENT_MARKERS = (
    'permission denied',
    'errno 13',
    'eacces',
    'errno 1)',
    'operation not permitted',
    'errno 2',
    'object not found',
    'einval',
    'invalid command',
)


def is_transient(rc, stderr):
    """Whether a failed ceph call is worth retrying (the cluster may simply not be up yet)."""
    return is_transient_failure(rc, stderr, _TRANSIENT_MARKERS, _PERMANENT_MARKERS, transient_rcs=(124, 110))


class CephCommandError(CommandError):
    """A ceph command failed. ``str()`` is a complete sentence for the operator."""


class CephTransientError(CephCommandError, TransientError):
    """The command timed out or could not reach the monitors: worth retrying while a gate waits."""


def _hint_for(stderr, rc):
    low = (stderr or '').lower()
    if rc == 124 or 'timed out' in low or 'etimedout' in low:
        return ('The monitors did not answer in time: check that ceph-mon runs on a majority of mon hosts '
                '(systemctl status ceph-mon@HOST) and, for mgr commands, that a ceph-mgr is active')
    if 'permission denied' in low or 'eacces' in low or 'access denied' in low or 'auth' in low:
        return 'Authentication failed: check the user and keyring options (the keyring must hold that user\'s key)'
    if 'object not found' in low or 'errno 2' in low:
        return 'The client could not find its keyring or config: check the conf, user and keyring options'
    if 'einval' in low or 'invalid command' in low:
        return 'The cluster rejected the command: check the Ceph release supports it'
    return None


CEPH = Tool(CephCommandError, CephTransientError, is_transient, _hint_for, 'a ceph CLI', 'executable')


class CephCLI(object):
    """Runs ``ceph`` commands. ``run_command`` has AnsibleModule.run_command's signature (tests pass a fake)."""

    def __init__(self, run_command, executable='ceph', cluster=None, conf=None, user=None, keyring=None,
                 op_timeout=10, timeout_bin=None):
        self._run_command = run_command
        self.executable = executable
        self.cluster = cluster
        self.conf = conf
        self.user = user
        self.keyring = keyring
        self.op_timeout = int(op_timeout)
        self.timeout_bin = timeout_bin

    def base_argv(self):
        argv = [self.executable]
        if self.cluster:
            argv += ['--cluster', self.cluster]
        if self.conf:
            argv += ['--conf', self.conf]
        if self.user:
            # `client.foo` is a full name; `foo` an id. Either way only the *name* is on the command line.
            argv += ['--name', self.user] if '.' in self.user else ['--id', self.user]
        if self.keyring:
            argv += ['--keyring', self.keyring]
        t = str(self.op_timeout)
        argv += ['--connect-timeout', t, '--rados_mon_op_timeout=' + t, '--rados_osd_op_timeout=' + t]
        return argv

    def argv(self, args, fmt_json=True):
        argv = self.base_argv() + list(args)
        if fmt_json:
            argv += ['--format', 'json']
        return argv

    def run(self, args, fmt_json=True):
        """Run ``ceph <args>``; return parsed JSON (fmt_json) or stdout text."""
        argv = self.argv(args, fmt_json)
        # The outer bound is the last resort against a client that hangs past every Ceph timeout.
        rc, out, err = CEPH.run(self._run_command, argv, self.timeout_bin, 2 * self.op_timeout + 5)
        return CEPH.parse_json(argv, rc, out, err) if fmt_json else out


class CephClient(CephCLI):
    """The commands blackstart uses, each returning what its reader makes of the JSON."""

    def quorum_status(self):
        return read_quorum(self.run(['quorum_status']))

    def osd_dump(self, epoch=None):
        return read_osd_dump(self.run(['osd', 'dump'] + ([str(int(epoch))] if epoch is not None else [])))

    def osd_tree(self):
        return read_osd_tree(self.run(['osd', 'tree']))

    def fs_dump(self):
        return read_fsmap(self.run(['fs', 'dump']))

    def health_detail(self):
        return read_health(self.run(['health', 'detail']))

    def pg_stat(self):
        return read_pg_stat(self.run(['pg', 'stat']))

    def osd_daemon_state(self, osd_id):
        """What the daemon of osd.N says of itself (``ceph tell osd.N status``): ``active``, ``booting``,
        ``preboot``... - evidence the map cannot give - or None when it does not answer. A release without that
        command (before Nautilus) gives ``unknown`` when the daemon answers ``version``."""
        name = 'osd.%d' % int(osd_id)
        try:
            return read_osd_status(self.run(['tell', name, 'status']))['state']
        except CephCommandError as exc:
            if 'EINVAL' not in (exc.stderr or '') and 'unrecognized command' not in (exc.stderr or ''):
                return None
        try:
            self.run(['tell', name, 'version'])
        except CephCommandError:
            return None
        return 'unknown'

    def osd_down(self, osd_id):
        """Mark osd.N down (``ceph osd down N``). An active daemon boots again at once; one stuck booting only when
        its mon session reconnects (minutes, measured on the lab)."""
        self.run(['osd', 'down', str(int(osd_id))], fmt_json=False)

    def fs_set(self, name, key, value):
        self.run(['fs', 'set', name, key, value], fmt_json=False)

    def osd_flag(self, flag, on):
        if flag not in OSD_FLAGS:
            raise ValueError('unknown OSD flag %r' % flag)
        self.run(['osd', 'set' if on else 'unset', flag], fmt_json=False)


def ceph_argument_spec():
    """The client options every Ceph module shares (documented by the blackstart.cluster.ceph doc fragment)."""
    return dict(
        executable=dict(type='str', default='ceph'),
        cluster=dict(type='str'),
        conf=dict(type='path'),
        user=dict(type='str'),
        keyring=dict(type='path', no_log=False),
        cli_timeout=dict(type='int', default=10),
    )


def cli_from_module(module):
    """Build a CephCLI from the module's options, or fail the module naming the bad input.

    Checked before anything runs: the executable exists, conf and keyring files exist and are readable.
    """
    p = module.params
    exe = p['executable']
    path = find_executable(module, exe)
    problems = []
    if not path:
        problems.append('ceph CLI %r not found (PATH or absolute path): install ceph-common on this host, '
                        'run the task on a host that has it, or set executable' % exe)
    problems += file_problems('conf', p['conf']) + file_problems('keyring', p['keyring'])
    if p['cli_timeout'] < 1:
        problems.append('cli_timeout must be at least 1 second')
    if problems:
        module.fail_json(msg='; '.join(problems))
    return CephClient(module.run_command, executable=path, cluster=p['cluster'], conf=p['conf'], user=p['user'],
                      keyring=p['keyring'], op_timeout=p['cli_timeout'], timeout_bin=module.get_bin_path('timeout'))


# ---------------------------------------------------------------------------------------------------
# Readers: one command's JSON -> small plain dicts, tolerant of the shapes of Jewel .. Tentacle
# ---------------------------------------------------------------------------------------------------

SEVERITY_ORDER = {'HEALTH_OK': 0, 'HEALTH_WARN': 1, 'HEALTH_ERR': 2}


def parse_ceph_time(value):
    """Ceph timestamps ('2026-11-25T13:11:14.978906+0000', '...Z', '2018-01-02 10:00:00.123') -> epoch s."""
    if value in (None, '', '0.000000'):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace(' ', 'T', 1)
    if text.endswith('Z'):
        text = text[:-1] + '+0000'
    tz = datetime.timezone.utc
    if len(text) > 5 and text[-5] in '+-' and text[-4:].isdigit():
        sign = 1 if text[-5] == '+' else -1
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(text[-4:-2]), minutes=int(text[-2:])))
        text = text[:-5]
    for fmt in ('%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S'):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=tz).timestamp()
        except ValueError:
            continue
    raise ValueError('unrecognised Ceph timestamp %r' % (value,))


def read_quorum(data):
    """``quorum_status`` (any release) or a mon's ``mon_status`` -> mons, quorum, leader."""
    monmap = data.get('monmap') or {}
    mons = [m.get('name') for m in monmap.get('mons', [])]
    names = data.get('quorum_names')
    if names is None:
        # mon_status gives ranks only.
        by_rank = dict((m.get('rank'), m.get('name')) for m in monmap.get('mons', []))
        names = [by_rank.get(r, str(r)) for r in data.get('quorum', [])]
    return dict(
        mons=mons,
        quorum=list(names),
        leader=data.get('quorum_leader_name'),
        age=data.get('quorum_age'),  # seconds since this quorum formed (Nautilus+), else None
        election_epoch=data.get('election_epoch'),
        state=data.get('state'),  # only mon_status has it (probing, electing, leader, peon)
    )


def _flag_set(raw):
    if isinstance(raw, list):
        flags = set(raw)
    else:
        flags = set(f for f in (raw or '').split(',') if f)
    if 'pauserd' in flags and 'pausewr' in flags:
        flags.add('pause')
    return flags


def read_osd_dump(data):
    """``osd dump`` -> epoch, flags (a set, with `pause` when both pause bits are set), per-OSD state."""
    osds = []
    for o in data.get('osds', []):
        state = o.get('state') or []
        osds.append({
            'id': int(o['osd']),
            'up': bool(o.get('up')),
            'in': bool(o.get('in')),
            'up_from': int(o.get('up_from') or 0),
            'down_at': int(o.get('down_at') or 0),
            # Luminous+ lists the state words; a sample without them is taken as existing.
            'exists': ('exists' in state) if state else True,
        })
    return dict(
        epoch=int(data.get('epoch') or 0),
        modified=parse_ceph_time(data.get('modified')),
        flags=_flag_set(data['flags_set'] if 'flags_set' in data else data.get('flags')),
        osds=osds,
    )


def read_osd_status(data):
    """``tell osd.N status`` -> the daemon's own state (``active`` once the map it booted into shows it up)."""
    return dict(state=str(data.get('state') or 'unknown'), newest_map=data.get('newest_map'),
                num_pgs=data.get('num_pgs'))


def read_osd_tree(data):
    """``osd tree`` -> {osd id: host name or None}. Hosts are the `host` buckets wherever they sit."""
    hosts = {}
    for node in data.get('nodes', []):
        if node.get('type') == 'host':
            for child in node.get('children', []):
                if child >= 0:
                    hosts[child] = node.get('name')
    for node in list(data.get('nodes', [])) + list(data.get('stray', [])):
        if node.get('id', -1) >= 0:
            hosts.setdefault(node['id'], None)
    return hosts


def _severity(value):
    # Anything but the three levels Ceph documents (one Jewel-era sample says HEALTH_CRITICAL) counts as the worst.
    return value if value in SEVERITY_ORDER else 'HEALTH_ERR'


def read_health(data):
    """``health [detail]`` or the ``health`` of ``status`` -> status and checks by code.

    Jewel has no check codes: its summary lines become checks keyed ``LEGACY_<n>``.
    Muted checks (Octopus+) are kept but marked; Ceph leaves them out of the overall status.
    """
    checks = {}
    if isinstance(data.get('checks'), dict):
        for code, chk in data['checks'].items():
            summary = chk.get('summary')
            if isinstance(summary, dict):
                summary = summary.get('message')
            checks[code] = dict(
                severity=_severity(chk.get('severity', 'HEALTH_WARN')),
                summary=summary or code,
                detail=[d.get('message', '') for d in chk.get('detail', []) if isinstance(d, dict)],
                muted=bool(chk.get('muted')),
            )
        status = data.get('status') or data.get('overall_status')
    else:
        for i, item in enumerate(data.get('summary', []) or []):
            checks['LEGACY_%d' % i] = dict(severity=_severity(item.get('severity', 'HEALTH_WARN')),
                                           summary=item.get('summary', ''), detail=[], muted=False)
        status = data.get('overall_status') or data.get('status')
    return dict(status=_severity(status), checks=checks)


PG_BAD_PARTS = frozenset(('stale', 'unknown', 'down', 'incomplete', 'peering', 'degraded', 'undersized',
                          'inconsistent', 'remapped', 'recovering', 'recovery_wait', 'backfilling',
                          'backfill_wait', 'laggy', 'wait', 'creating', 'activating'))


def pg_state_is_clean(name):
    parts = set(name.split('+'))
    return {'active', 'clean'} <= parts and not (parts & PG_BAD_PARTS)


# States in which a PG does not serve I/O even with `active` in its name (stats stale, or still peering).
PG_NOT_ACTIVE_PARTS = frozenset(('stale', 'unknown', 'down', 'incomplete', 'peering', 'activating', 'peered'))


def pg_state_is_active(name):
    """Active (serving I/O), clean or not: `active+undersized+degraded` is, `peering` and `stale+active` are not."""
    parts = set(name.split('+'))
    return 'active' in parts and not (parts & PG_NOT_ACTIVE_PARTS)


def read_pg_stat(data):
    """``pg stat`` -> pg_ready (None where the release does not say), counts by state, clean or not."""
    summary = data.get('pg_summary', data)
    by_state = {}
    for item in summary.get('num_pg_by_state', []):
        by_state[item.get('name') or item.get('state_name')] = int(item.get('num', item.get('count', 0)))
    num = int(summary.get('num_pgs', sum(by_state.values())))
    unclean = dict((k, v) for k, v in by_state.items() if not pg_state_is_clean(k))
    inactive = dict((k, v) for k, v in by_state.items() if not pg_state_is_active(k))
    return dict(pg_ready=data.get('pg_ready'), num_pgs=num, by_state=by_state, unclean=unclean,
                all_clean=num > 0 and not unclean, inactive=inactive, all_active=num > 0 and not inactive)


# MDSMap flag bits (src/include/ceph_fs.h): NOT_JOINABLE is bit 0.
_MDSMAP_NOT_JOINABLE = 1


def _read_mdsmap(fscid, mdsmap):
    info = mdsmap.get('info', {}) or {}
    by_gid = dict((int(e.get('gid', 0)), e) for e in info.values())
    ranks = {}
    for key, gid in (mdsmap.get('up') or {}).items():
        entry = by_gid.get(int(gid), {})
        # After a hard power loss the map keeps a dead MDS up:active and only sets laggy_since (no beacons).
        ranks[int(str(key).replace('mds_', ''))] = dict(
            name=entry.get('name'), state=entry.get('state', 'unknown'), laggy_since=entry.get('laggy_since'))
    flags_state = mdsmap.get('flags_state')
    if isinstance(flags_state, dict) and 'joinable' in flags_state:
        joinable = bool(flags_state['joinable'])
    else:
        joinable = not (int(mdsmap.get('flags', 0)) & _MDSMAP_NOT_JOINABLE)
    return {
        'id': fscid,
        'name': mdsmap.get('fs_name'),
        'max_mds': int(mdsmap.get('max_mds', 0)),
        'joinable': joinable,
        'in': sorted(int(r) for r in mdsmap.get('in', [])),
        'ranks': ranks,
        'failed': sorted(int(r) for r in mdsmap.get('failed', [])),
        'damaged': sorted(int(r) for r in mdsmap.get('damaged', [])),
        'stopped': sorted(int(r) for r in mdsmap.get('stopped', [])),
        'standby_replay': sorted(e.get('name') for e in info.values() if e.get('state') == 'up:standby-replay'),
    }


def read_fsmap(data):
    """``fs dump``, ``mds stat`` (``{"fsmap": …}``) or ``fs get`` (one ``{"mdsmap": …}``) -> filesystems, standbys."""
    if 'fsmap' in data and isinstance(data['fsmap'], dict):
        data = data['fsmap']
    if 'mdsmap' in data and 'filesystems' not in data:
        data = dict(filesystems=[data], standbys=[])
    filesystems = [_read_mdsmap(fs.get('id'), fs.get('mdsmap', {})) for fs in data.get('filesystems', [])]
    standbys = sorted(s.get('name') for s in data.get('standbys', [])
                      if s.get('state', 'up:standby') == 'up:standby' and not s.get('laggy_since'))
    return dict(epoch=data.get('epoch'), filesystems=filesystems, standbys=standbys)
