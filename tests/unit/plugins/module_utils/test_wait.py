# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one wait loop, on a fake monotonic clock."""

from __future__ import annotations

import pytest

from ansible_collections.blackstart.cluster.plugins.module_utils._wait import (
    Observation, TransientError, wait_for)


class Clock(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.sleeps.append(round(seconds, 4))
        self.now += seconds


def checker(clock, ready_at=None, errors_until=None, cost=0.0):
    calls = []

    def check():
        calls.append(clock.now)
        clock.now += cost
        if errors_until is not None and clock.now < errors_until:
            raise TransientError('timed out')
        ready = ready_at is not None and clock.now >= ready_at
        return Observation(ready, {'t': clock.now}, [] if ready else ['osd.1 down'])
    return check, calls


def test_first_check_is_immediate_and_ready_needs_no_sleep():
    clock = Clock()
    check, calls = checker(clock, ready_at=0)
    r = wait_for(check, 60, 1.0, clock=clock, sleep=clock.sleep)
    assert r.ready and r.attempts == 1 and calls == [1000.0] and clock.sleeps == []


def test_poll_grows_from_a_quarter_second_to_poll():
    clock = Clock()
    check, calls = checker(clock)
    r = wait_for(check, 6, 1.0, clock=clock, sleep=clock.sleep)
    assert not r.ready and r.timed_out
    assert clock.sleeps[:5] == [0.25, 0.375, 0.5625, 0.8438, 1.0]
    assert max(clock.sleeps) == 1.0


def test_readiness_is_seen_within_poll_of_becoming_true():
    for ready_at in (1000.1, 1001.7, 1003.33, 1010.0, 1042.5):
        clock = Clock()
        check, calls = checker(clock, ready_at=ready_at, cost=0.05)
        r = wait_for(check, 120, 1.0, clock=clock, sleep=clock.sleep)
        assert r.ready
        assert calls[-1] + 0.05 - ready_at <= 1.0 + 0.05 + 1e-9


def test_deadline_is_monotonic_and_last_sleep_is_cut():
    clock = Clock()
    check, calls = checker(clock)
    r = wait_for(check, 2.0, 1.0, clock=clock, sleep=clock.sleep)
    assert r.timed_out and r.elapsed == pytest.approx(2.0)
    assert sum(clock.sleeps) == pytest.approx(2.0)
    assert r.missing == ['osd.1 down'] and r.state == {'t': calls[-1]}


def test_transient_errors_are_retried_counted_and_remembered():
    clock = Clock()
    check, calls = checker(clock, ready_at=1003, errors_until=1002)
    r = wait_for(check, 30, 1.0, clock=clock, sleep=clock.sleep)
    assert r.ready and r.transient_count >= 3 and r.transient_errors == ['timed out']


def test_transient_error_keeps_the_last_good_state():
    clock = Clock()
    seq = [Observation(False, {'n': 1}, ['a']), TransientError('timed out')]

    def check():
        item = seq.pop(0) if seq else TransientError('timed out')
        if isinstance(item, Exception):
            raise item
        return item
    r = wait_for(check, 1, 1.0, clock=clock, sleep=clock.sleep)
    assert r.state == {'n': 1} and r.missing == ['could not read the state: timed out']


def test_check_mode_evaluates_once_and_never_sleeps():
    clock = Clock()
    check, calls = checker(clock)
    r = wait_for(check, 600, 1.0, check_mode=True, clock=clock, sleep=clock.sleep)
    assert not r.ready and not r.timed_out and r.attempts == 1 and clock.sleeps == []


def test_zero_timeout_checks_once():
    clock = Clock()
    check, calls = checker(clock)
    r = wait_for(check, 0, 1.0, clock=clock, sleep=clock.sleep)
    assert r.attempts == 1 and r.timed_out


def test_other_errors_propagate():
    def check():
        raise KeyError('boom')
    with pytest.raises(KeyError):
        wait_for(check, 5, 1.0)


def test_summary_and_dict():
    clock = Clock()
    check, calls = checker(clock, errors_until=10 ** 9)
    r = wait_for(check, 1, 1.0, clock=clock, sleep=clock.sleep)
    assert r.summary('Ceph OSDs').startswith('Ceph OSDs not ready after 1.0s (')
    assert 'transient errors: could not read the state: timed out' in r.summary('Ceph OSDs')
    d = r.as_dict()
    assert set(d) == {'ready', 'elapsed', 'attempts', 'state', 'missing', 'transient_errors', 'transient_count'}
