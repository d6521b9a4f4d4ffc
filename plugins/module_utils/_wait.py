# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one wait loop every blackstart gate uses.

A gate is a ``check()`` callable that returns an :class:`Observation`. :func:`wait_for` calls it at
once, then again after short, growing pauses (readiness is seen within ``first_delay * growth`` of the
moment it becomes true, never later than ``poll``) until it reports ready or a monotonic deadline passes.
Transient errors (a CLI that timed out, no quorum yet, a connection refused while a daemon starts) are
retried and remembered; anything else propagates. The last observed state is always returned, so a
timeout can say exactly what was missing. In check mode the gate is evaluated once and never sleeps.

This file is private to the collection (leading underscore): its API may change between releases.
"""

from __future__ import annotations

import time

# Poll schedule: the first re-check comes quickly because most gates turn ready a few seconds after the
# daemons start; the interval then grows so a long wait does not hammer the cluster.
FIRST_DELAY = 0.25
GROWTH = 1.5
# How many distinct transient errors are kept for the report (the count is kept in full).
KEEP_ERRORS = 5


class GateError(Exception):
    """A failure that waiting will not fix (bad input, a rejected command). Ends the gate at once."""

    def details(self):
        return {}


class GateInputError(GateError):
    """The module was asked about something the cluster does not have (a mon, OSD, filesystem, node or member
    name that does not exist): waiting would not fix it."""


def same_host(a, b):
    """Host names match exactly or by their short name (CRUSH, mon ids and node names often use the short name, an
    inventory the FQDN). Used for the hosts an operator declares absent."""
    if not a or not b:
        return False
    return a == b or a.split('.')[0] == b.split('.')[0]


class TransientError(Exception):
    """A failure worth retrying: the thing asked may simply not be up yet."""


class Observation(object):
    """What one evaluation of a gate saw.

    ``missing`` is a list of human sentences, one per thing not ready yet, naming it and, where known,
    why and what to do. ``state`` is the gate-specific structured view returned to the playbook.
    """

    __slots__ = ('ready', 'state', 'missing')

    def __init__(self, ready, state=None, missing=None):
        self.ready = bool(ready)
        self.state = state if state is not None else {}
        self.missing = list(missing or [])


class WaitResult(object):
    __slots__ = ('ready', 'timed_out', 'elapsed', 'attempts', 'state', 'missing', 'transient_errors',
                 'transient_count')

    def __init__(self):
        self.ready = False
        self.timed_out = False
        self.elapsed = 0.0
        self.attempts = 0
        self.state = {}
        self.missing = []
        self.transient_errors = []
        self.transient_count = 0

    def as_dict(self):
        return dict(
            ready=self.ready,
            elapsed=round(self.elapsed, 3),
            attempts=self.attempts,
            state=self.state,
            missing=self.missing,
            transient_errors=self.transient_errors,
            transient_count=self.transient_count,
        )

    def summary(self, what):
        """One sentence for a failure message: what was missing when we gave up."""
        if self.ready:
            return '%s: ready after %.1fs' % (what, self.elapsed)
        parts = list(self.missing)
        if not parts and self.transient_errors:
            parts = ['last error: %s' % self.transient_errors[-1]]
        head = '%s not ready after %.1fs (%d checks)' % (what, self.elapsed, self.attempts)
        if self.transient_count:
            head += ', %d transient errors' % self.transient_count
        return head + (': ' + '; '.join(parts) if parts else '')


def wait_for(check, timeout, poll=1.0, check_mode=False, clock=None, sleep=None,
             first_delay=FIRST_DELAY, growth=GROWTH):
    """Evaluate ``check`` until it is ready or ``timeout`` seconds have passed.

    :param check: callable returning an Observation; may raise TransientError to be retried.
    :param timeout: seconds, measured on a monotonic clock from the first call.
    :param poll: the longest pause between two checks (the pause starts at ``first_delay`` and grows).
    :param check_mode: evaluate once and return, never sleep.
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    result = WaitResult()
    start = clock()
    deadline = start + max(0.0, float(timeout))
    delay = min(first_delay, poll) if poll > 0 else 0.0
    while True:
        result.attempts += 1
        try:
            obs = check()
        except TransientError as exc:
            text = str(exc)
            result.transient_count += 1
            if text not in result.transient_errors:
                result.transient_errors.append(text)
                del result.transient_errors[:-KEEP_ERRORS]
            # Keep the last good state; say what we could not see this time.
            result.missing = ['could not read the state: %s' % text]
        else:
            result.state = obs.state
            result.missing = obs.missing
            if obs.ready:
                result.ready = True
                break
        now = clock()
        result.elapsed = now - start
        if check_mode:
            break
        remaining = deadline - now
        if remaining <= 0:
            result.timed_out = True
            break
        sleep(min(delay, remaining))
        delay = min(delay * growth, poll) if poll > 0 else 0.0
    result.elapsed = clock() - start
    return result


def gate_argument_spec(timeout=300):
    """The options every gate module shares (documented by the blackstart.cluster.wait doc fragment)."""
    return dict(
        timeout=dict(type='float', default=float(timeout)),
        poll=dict(type='float', default=1.0),
    )


def run_gate(module, what, check, extra=None):
    """Run ``check`` through :func:`wait_for` with the module's timeout/poll and end the module.

    Ready: exit with changed=False. Check mode and not ready: exit, with a warning (the gate was evaluated
    once, not waited on). Timed out: fail, with the message naming what is missing and the last state.
    A GateError (bad input, a rejected command) fails at once with its details.
    ``extra``, a dict read when the module ends, is added to the result: a gate that repairs something while
    it waits reports it there, with ``changed`` and a ``done`` sentence appended to the message; a ``note`` sentence
    (what the gate was told not to wait for) is appended to the message too.
    """
    extra = extra if extra is not None else {}
    if module.params['timeout'] < 0 or module.params['poll'] <= 0:
        module.fail_json(msg='timeout must be >= 0 and poll > 0 (got timeout=%s, poll=%s)'
                         % (module.params['timeout'], module.params['poll']))
    try:
        result = wait_for(check, module.params['timeout'], module.params['poll'], check_mode=module.check_mode)
    except GateError as exc:
        module.fail_json(msg=str(exc), **dict(exc.details(), **_extra_fields(extra)))
    out = result.as_dict()
    out.update(_extra_fields(extra))
    out['changed'] = bool(extra.get('changed'))
    out['msg'] = result.summary(what) + ''.join('; ' + extra[k] for k in ('note', 'done') if extra.get(k))
    if result.ready:
        module.exit_json(**out)
    if module.check_mode:
        module.warn('check mode: evaluated once without waiting: ' + out['msg'])
        module.exit_json(**out)
    module.fail_json(**out)


def _extra_fields(extra):
    return dict((k, v) for k, v in extra.items() if k not in ('done', 'note'))
