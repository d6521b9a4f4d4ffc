# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every command-line wrapper (ceph, kubectl, etcdctl) shares: running a command bounded by an outer
timeout with LC_ALL=C, an error that is a complete sentence (command, rc, what it said, what to do), and the
transient-or-permanent decision. What to run, how to read it and which errors are which stays in _ceph.py,
_k8s.py and _etcd.py.

Private to the collection (leading underscore).
"""

from __future__ import annotations

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
