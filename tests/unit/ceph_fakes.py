# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real Ceph 16.2.15 captures, and a fake `ceph` run_command that replays them (failures included)."""

from __future__ import annotations

import json
import os

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
CEPH16 = os.path.join(FIXTURES, 'ceph-16.2')
RELEASES = os.path.join(FIXTURES, 'ceph-releases')
STATES = sorted(d for d in os.listdir(CEPH16) if os.path.isdir(os.path.join(CEPH16, d)))

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


class FakeCeph(object):
    """A `run_command` replaying captured states. ``states`` is a list: each call of ``advance()`` moves on
    (a cluster coming up); ``extra`` maps command words to (rc, out, err) for commands not captured."""

    def __init__(self, states, extra=None, advance_every=None):
        self.states = list(states) if isinstance(states, (list, tuple)) else [states]
        self.index = 0
        self.calls = []
        self.extra = dict(extra or {})
        self.flags_changes = []
        self.advance_every = advance_every

    @property
    def state(self):
        return self.states[min(self.index, len(self.states) - 1)]

    def advance(self):
        self.index += 1

    def __call__(self, argv, check_rc=False, environ_update=None, **kwargs):
        assert environ_update == {'LC_ALL': 'C', 'LANG': 'C'}
        assert isinstance(argv, list), 'commands must be argument lists'
        self.calls.append(list(argv))
        words = command_words(argv)
        if words in self.extra:
            result = self.extra[words]
            return result(words) if callable(result) else result
        if words[:2] == ('osd', 'set') or words[:2] == ('osd', 'unset'):
            self.flags_changes.append(words)
            return 0, '', '%s is %s' % (words[2], 'set' if words[1] == 'set' else 'unset')
        name = COMMAND_FILES[words]
        result = capture(self.state, name)
        if self.advance_every and len(self.calls) % self.advance_every == 0:
            self.advance()
        return result
