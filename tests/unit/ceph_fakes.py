# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real Ceph 16.2.15 captures, and a fake `ceph` run_command that replays them (failures included)."""

from __future__ import annotations

import json
import os

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
CEPH16 = os.path.join(FIXTURES, 'ceph-16.2')
RELEASES = os.path.join(FIXTURES, 'ceph-releases')
STATES = sorted(d for d in os.listdir(CEPH16) if os.path.isfile(os.path.join(CEPH16, d, "_meta.json")))

# `ceph <words> --format json` -> capture file name
COMMAND_FILES = {
    ('quorum_status',): 'quorum_status',
    ('osd', 'dump'): 'osd_dump',
    ('osd', 'tree'): 'osd_tree',
    ('osd', 'stat'): 'osd_stat',
    ('fs', 'dump'): 'fs_dump',
    ('fs', 'status'): 'fs_status',
    ('health',): 'health',
    ('health', 'detail'): 'health_detail',
    ('pg', 'stat'): 'pg_stat',
    ('status',): 'status',
    ('mds', 'stat'): 'mds_stat',
}


# The captured states in which no OSD daemon ran (README.md of the captures): every other state ran the daemons of
# the OSDs its osd dump shows up. In these the map may still say "up" (nodown, or no one reported them yet).
NO_OSD_DAEMON = frozenset(('osds_stopped_with_flags', 'mon_only_flags', 'mon_mgr_flags', 'osds_down_all',
                           'osds_down_all_after_60s', 'mon_only', 'mon_mgr', 'mons_down', 'mon_no_quorum'))
DAEMON_STATUS = os.path.join(CEPH16, 'daemon', 'tell_osd_status.json')


def daemon_status(state, whoami=0):
    """`ceph tell osd.N status` as captured on the lab, with the daemon's state set."""
    with open(DAEMON_STATUS) as f:
        data = json.load(f)
    data.update(state=state, whoami=whoami)
    return 0, json.dumps(data), ''


def daemon_runs(state, osd_id):
    """Whether the daemon of osd.N ran when ``state`` was captured."""
    if state in NO_OSD_DAEMON:
        return False
    dump = load(state, 'osd_dump')
    return any(o['osd'] == osd_id and o['up'] for o in dump['osds'])


def load(state, name):
    with open(os.path.join(CEPH16, state, name + '.json')) as f:
        return json.load(f)


def capture(state, name):
    """(rc, stdout, stderr) of one captured command, as the CLI gave it."""
    with open(os.path.join(CEPH16, state, '_meta.json')) as f:
        meta = json.load(f)[name]
    with open(os.path.join(CEPH16, state, name + '.json')) as f:
        out = f.read()
    return meta['rc'], out, meta['stderr']


def command_words(argv):
    """Strip `timeout -k 5 N`, the executable, the client options and `--format json`."""
    argv = list(argv)
    if argv and argv[0].endswith('timeout'):
        argv = argv[4:]
    words = []
    skip = False
    for i, a in enumerate(argv[1:]):
        if skip:
            skip = False
            continue
        if a in ('--cluster', '--conf', '--name', '--id', '--keyring', '--connect-timeout', '--format'):
            skip = True
            continue
        if a.startswith('--rados_'):
            continue
        words.append(a)
    return tuple(words)


class FakeCeph(object):  # pylint: disable=too-many-instance-attributes
    """A `run_command` replaying captured states. ``states`` is a list: each call of ``advance()`` moves on
    (a cluster coming up), as does each command whose words are ``advance_on``; ``extra`` maps command
    words to (rc, out, err), or a callable giving it, for commands not captured."""

    def __init__(self, states, extra=None, advance_on=None):
        self.states = list(states) if isinstance(states, (list, tuple)) else [states]
        self.index = 0
        self.calls = []
        self.extra = dict(extra or {})
        self.flags_changes = []
        self.advance_on = advance_on

    @property
    def state(self):
        return self.states[min(self.index, len(self.states) - 1)]

    def advance(self):
        self.index += 1

    def _apply_flags(self, text):
        """What `osd dump` shows after the `osd set/unset` calls this fake received."""
        data = json.loads(text)
        flags = set(data['flags_set'])
        for _verb, action, flag in self.flags_changes:
            parts = {'pauserd', 'pausewr'} if flag == 'pause' else {flag}
            flags = flags | parts if action == 'set' else flags - parts
        data['flags_set'] = sorted(flags)
        data['flags'] = ','.join(sorted(flags))
        return json.dumps(data)

    def __call__(self, argv, check_rc=False, environ_update=None, **kwargs):
        assert environ_update == {'LC_ALL': 'C', 'LANG': 'C'}
        assert isinstance(argv, list), 'commands must be argument lists'
        self.calls.append(list(argv))
        words = command_words(argv)
        if words in self.extra:
            result = self.extra[words]
            return result(words) if callable(result) else result
        if words[:1] == ('tell',):
            osd_id = int(words[1].split('.')[1])
            if words[2:] == ('status',) and daemon_runs(self.state, osd_id):
                return daemon_status('active', osd_id)
            # A daemon that is not running does not answer (what `ceph tell` says for a stopped OSD).
            return 1, '', 'Error ENXIO: problem getting command descriptions from %s' % words[1]
        if words[:2] == ('osd', 'set') or words[:2] == ('osd', 'unset'):
            self.flags_changes.append(words)
            return 0, '', '%s is %s' % (words[2], 'set' if words[1] == 'set' else 'unset')
        name = COMMAND_FILES[words]
        result = capture(self.state, name)
        if name == 'osd_dump' and self.flags_changes and result[0] == 0:
            result = (0, self._apply_flags(result[1]), result[2])
        if words == self.advance_on:
            self.advance()
        return result


def run_module(main, args, fake, monkeypatch, capsys, check_mode=False):
    """Run a module's main() with ``args`` against ``fake``; return (exit code, result dict)."""
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda self, *a, **k: fake(*a, **k))
    args = dict(args)
    args.setdefault('executable', '/bin/true')  # any executable file: the fake answers instead
    if check_mode:
        args['_ansible_check_mode'] = True
    code = None
    with patch_module_args(args):
        try:
            main()
        except SystemExit as exc:
            code = exc.code
    assert code is not None, 'the module did not exit'
    return code, json.loads(capsys.readouterr().out)
