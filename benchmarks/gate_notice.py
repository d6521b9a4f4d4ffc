# SPDX-License-Identifier: GPL-3.0-or-later
"""How soon does a gate notice that the cluster is ready? And what does one check cost us?

1. Notice latency, on a virtual clock (no noise from this shared machine): the cluster becomes ready at a
   random moment; each check costs what a real `ceph` call cost on Ceph 16.2.15 (the per-command durations
   recorded in tests/unit/fixtures/ceph-16.2/*/_meta.json). Compared: blackstart's wait loop (first check at
   once, 0.25 s growing x1.5 to `poll`) against the fixed-delay `until:` loops playbooks usually write.
   Reported as medians, p95 and the ratio to blackstart.
2. CPU cost of one decision (reader + gate) on every captured state, measured with timeit, as a ratio to
   the cost of the CLI call it interprets.

Usage: python3 benchmarks/gate_notice.py [--runs 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import statistics
import sys
import timeit

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(ROOT, '.build', 'collections'))
sys.path.insert(0, ROOT)

from ansible_collections.blackstart.cluster.plugins.module_utils import _ceph, _ceph_gates  # noqa: E402
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import Observation, wait_for  # noqa: E402

FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'ceph-16.2')


def call_costs():
    """Seconds each successful `ceph ... -f json` call took in the captures (osd dump, fs dump, health, quorum)."""
    costs = []
    for meta in glob.glob(os.path.join(FIXTURES, '*', '_meta.json')):
        with open(meta) as f:
            data = json.load(f)
        for name in ('osd_dump', 'fs_dump', 'health_detail', 'quorum_status'):
            entry = data.get(name)
            if entry and entry['rc'] == 0:
                costs.append(entry['seconds'])
    return costs


class VirtualClock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def blackstart(ready_at, costs, rng, poll):
    clock = VirtualClock()

    def check():
        clock.now += rng.choice(costs)
        return Observation(clock.now >= ready_at + 0.0, {}, [])
    wait_for(check, 3600, poll, clock=clock, sleep=clock.sleep)
    return clock.now - ready_at


def fixed_until(ready_at, costs, rng, delay):
    """`until: ... retries: N delay: D`: check, then sleep D, check again."""
    now = 0.0
    while True:
        now += rng.choice(costs)
        if now >= ready_at:
            return now - ready_at
        now += delay


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=2000)
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    costs = call_costs()
    print('ceph call cost from the captures: n=%d median %.2f s, p95 %.2f s' % (
        len(costs), statistics.median(costs), pct(costs, 0.95)))
    rng = random.Random(args.seed)
    readies = [rng.uniform(0, 60) for _run in range(args.runs)]
    variants = [
        ('blackstart poll=1', lambda r: blackstart(r, costs, rng, 1.0)),
        ('blackstart poll=5', lambda r: blackstart(r, costs, rng, 5.0)),
        ('until delay=5', lambda r: fixed_until(r, costs, rng, 5.0)),
        ('until delay=10', lambda r: fixed_until(r, costs, rng, 10.0)),
    ]
    results = {}
    for name, fn in variants:
        results[name] = [fn(r) for r in readies]
    base = statistics.median(results['blackstart poll=1'])
    print('\nnotice latency after the cluster turns ready (%d runs, ready at U(0, 60) s):' % args.runs)
    print('  %-18s %8s %8s %8s' % ('loop', 'median', 'p95', 'ratio'))
    for name, _fn in variants:
        med = statistics.median(results[name])
        print('  %-18s %7.2fs %7.2fs %7.1fx' % (name, med, pct(results[name], 0.95), med / base))

    print('\nCPU per decision (reader + gate, this machine, best of 5 x 200):')
    cpu = []
    for state in sorted(d for d in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, d))):
        path = os.path.join(FIXTURES, state, 'osd_dump.json')
        if not os.path.getsize(path):
            continue
        with open(path) as f:
            raw = f.read()
        with open(os.path.join(FIXTURES, state, 'osd_tree.json')) as f:
            hosts = _ceph.read_osd_tree(json.load(f))

        def decide():
            _ceph_gates.osd_observation(_ceph.read_osd_dump(json.loads(raw)), hosts, since_epoch=1)
        cpu.append(min(timeit.repeat(decide, number=200, repeat=5)) / 200)
    med_cpu = statistics.median(cpu)
    print('  osd gate: median %.0f us per check = %.5f of one ceph call (%.2f s)' % (
        med_cpu * 1e6, med_cpu / statistics.median(costs), statistics.median(costs)))


if __name__ == '__main__':
    main()
