# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every command-line wrapper (ceph, kubectl, etcdctl) shares: finding the executable and checking the
files it is given before anything runs, running a command bounded by an outer timeout with LC_ALL=C, the
transient-or-permanent decision and the error that is a complete sentence (command, rc, what it said, what to
do), and parsing its JSON. What to run, how to read it and which errors are which (a :class:`Tool`) stays in
_ceph.py, _k8s.py and _etcd.py.

Private to the collection (leading underscore).
"""

from __future__ import annotations

import json
import os

from ansible_collections.blackstart.cluster.plugins.module_utils._wait import GateError


class CommandError(GateError):
    """A command failed. ``str()`` is '`command` failed (rc=N): what it said. What to do'."""

    def __init__(self, argv, rc, stdout, stderr, hint=None, reason=None):
        self.argv = list(argv)
        self.rc = rc
        self.stdout = stdout or ''
        self.stderr = (stderr or '').strip()
        self.hint = hint
        self.reason = reason or 'failed'
        super(CommandError, self).__init__(self._message())

    @property
    def command(self):
        return ' '.join(self.argv)

    @property
    def said(self):
        """The line of stderr that says what went wrong (tools log retries before it)."""
        lines = [ln for ln in self.stderr.splitlines() if ln.strip()]
        return lines[-1][:500] if lines else ''

    def _message(self):
        msg = '`%s` %s (rc=%s)' % (self.command, self.reason, self.rc)
        if self.said:
            msg += ': %s' % self.said
        if self.hint:
            msg += '. %s' % self.hint
        return msg

    def details(self):
        return dict(cmd=self.argv, rc=self.rc, stderr=self.stderr[-4000:], stdout=self.stdout[:2000])


def is_transient_failure(rc, stderr, transient_markers, permanent_markers, transient_rcs=(124,)):
    """Worth retrying? A permanent marker in stderr says no; a transient rc or marker says yes."""
    low = (stderr or '').lower()
    if any(m in low for m in permanent_markers):
        return False
    return rc in transient_rcs or any(m in low for m in transient_markers)


def run_bounded(run_command, argv, timeout_bin, budget, environ=None):
    """Run ``argv`` with LC_ALL=C, killed after ``budget`` seconds (SIGTERM, SIGKILL 5 s later) when the host
    has ``timeout``. Returns (rc, stdout, stderr, reason); reason says 'was killed after N s' on rc 124."""
    full = ([timeout_bin, '-k', '5', str(int(budget))] + list(argv)) if timeout_bin else list(argv)
    env = {'LC_ALL': 'C', 'LANG': 'C'}
    env.update(environ or {})
    rc, out, err = run_command(full, check_rc=False, environ_update=env)
    reason = 'was killed after %ss' % int(budget) if rc == 124 else 'failed'
    return rc, out, err, reason


class Tool(object):
    """What tells one command-line tool's failures apart: its error class and transient subclass, which failures
    are worth retrying (``is_transient(rc, stderr)``), the hint for each (``hint_for(stderr, rc)``), and what to ask
    when its output is not JSON (``what``: 'a ceph CLI')."""

    def __init__(self, error, transient, is_transient, hint_for, what, option):
        self.error = error
        self.transient = transient
        self.is_transient = is_transient
        self.hint_for = hint_for
        self.what = what
        self.option = option

    def failure(self, argv, rc, out, err, reason='failed'):
        """The exception for a failed run: transient or not, with its hint."""
        cls = self.transient if self.is_transient(rc, err) else self.error
        return cls(argv, rc, out, err, hint=self.hint_for(err, rc), reason=reason)

    def run(self, run_command, argv, timeout_bin, budget, environ=None, accept=None):
        """Run ``argv`` (see run_bounded); raise :meth:`failure` unless rc is 0 or ``accept(rc, out, err)`` says the
        output is the answer anyway. Returns (rc, stdout, stderr)."""
        rc, out, err, reason = run_bounded(run_command, argv, timeout_bin, budget, environ)
        if rc != 0 and not (accept and accept(rc, out, err)):
            raise self.failure(argv, rc, out, err, reason)
        return rc, out, err

    def parse_json(self, argv, rc, out, err):
        try:
            return json.loads(out)
        except ValueError:
            raise self.error(argv, rc, out, err, reason='printed output that is not JSON',
                             hint='First bytes: %r. Is the %s option %s?' % ((out or '')[:120], self.option, self.what))


def find_executable(module, exe):
    """The path of ``exe`` (an absolute path, or a name looked up in PATH), or None."""
    return exe if os.path.isabs(exe) and os.access(exe, os.X_OK) else module.get_bin_path(exe)


def file_problems(what, path, unreadable_hint=''):
    """[] when ``path`` (if given) is a readable file, else one sentence saying what is wrong with it."""
    if path and not os.path.isfile(path):
        return ['%s file %s does not exist on this host' % (what, path)]
    if path and not os.access(path, os.R_OK):
        return ['%s file %s is not readable by this user%s' % (what, path, unreadable_hint)]
    return []
