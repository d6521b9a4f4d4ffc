# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.blackstart.cluster.plugins.filter.typos import FilterModule, typos

KNOWN = ['ceph_osd_activation', 'ceph_flags', 'k8s_workers_drain_timeout']


def test_a_misspelt_option_is_named_with_the_option_it_resembles():
    assert typos(['ceph_osd_activaton', 'ceph_flags'], KNOWN) == ['ceph_osd_activaton (did you mean ceph_osd_activation?)']
    assert typos(['k8s_workers_drain_timout'], KNOWN, ['k8s_workers_']) == [
        'k8s_workers_drain_timout (did you mean k8s_workers_drain_timeout?)']


def test_another_tools_variables_and_other_prefixes_are_left_alone():
    assert typos(['ceph_origin', 'ceph_stable_release', 'ansible_host'], KNOWN, ['ceph_']) == []
    assert typos(['xceph_flags'], KNOWN, ['ceph_']) == []
    assert FilterModule().filters()['typos'] is typos
