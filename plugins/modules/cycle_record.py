#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: cycle_record
short_description: The power cycle's write-ahead record on the controller
version_added: 0.2.0
description:
  - Reads, merges into, or retires the JSON record in which a power-off writes what it changed - or is about to
    change - so that a power-on undoes exactly that, even after a power-off that was killed at any point.
  - Runs on the controller whatever the task's host (an action plugin), because the record must survive the hosts
    it describes.
  - Merging never forgets. Dicts merge recursively, lists are unions (a rerun that cordons nothing keeps the
    nodes the first run cordoned), other values are replaced.
  - The file is written atomically (temporary file, fsync, rename), mode 0600, in a 0700 directory. It names
    hosts, units, flags and paths, never a secret.
  - A record names the cluster it belongs to (O(cluster)). A record of another cluster is refused, never merged.
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
attributes:
  check_mode:
    support: full
    details: Returns the record as it would be and whether it would change; writes nothing.
  diff_mode:
    support: full
  idempotent:
    support: partial
    details: Merging the same update twice changes nothing, except O(event), which is appended each time.
options:
  path:
    description: The record file on the controller.
    type: path
    required: true
  op:
    description:
      - V(read) returns the record ({} when there is none).
      - V(open) starts a cycle when the record has none (adds C(cycle.id), C(cycle.opened) and C(version)), then
        merges like V(update). An unfinished record of the same cluster is continued.
      - V(update) merges O(update) into the record and writes it.
      - V(retire) renames the record to C(<name>.done-<time>.json), so no later run reuses it.
    type: str
    choices: [open, update, read, retire]
    default: update
  update:
    description: What to merge into the record.
    type: dict
    default: {}
  event:
    description: A line appended to the record's C(events) with the time and the task's host.
    type: str
  cluster:
    description:
      - The identity of the cluster this run works on, C(ceph_fsid) and/or C(kube_system_uid). Empty values are
        ignored (a part of the cluster that is down cannot be asked).
      - When the record holds a different value for a key, the task fails and nothing is written.
    type: dict
    default: {}
  check_paths:
    description:
      - More paths (the etcd snapshot directory) that, like O(path), must not be inside a git work tree unless
        ignored there (git is asked, C(git check-ignore)).
    type: list
    elements: path
    default: []
  allow_in_git:
    description:
      - Accept O(path) and O(check_paths) inside a git work tree where its C(.gitignore) does not keep them out.
        Off by default, because the etcd snapshot holds every Secret of the cluster and an inventory directory is
        usually a git work tree.
    type: bool
    default: false
notes:
  - The record's keys are described in the collection's C(docs/power-cycle.md).
'''

EXAMPLES = r'''
- name: Before setting the flags, record what is about to change (write-ahead)
  blackstart.cluster.cycle_record:
    path: "{{ state_file }}"
    update:
      ceph:
        flags_set: "{{ predicted.changed_flags }}"
    event: setting OSD flags

- name: Refuse a record of another cluster
  blackstart.cluster.cycle_record:
    path: "{{ state_file }}"
    op: open
    cluster:
      ceph_fsid: "{{ identity.ceph_fsid }}"

- name: After a completed power-on
  blackstart.cluster.cycle_record:
    path: "{{ state_file }}"
    op: retire
'''

RETURN = r'''
path:
  description: The record file.
  returned: always
  type: str
  sample: /root/.blackstart/mysite/blackstart-state.json
record:
  description: The record after this call ({} after V(retire)); in check mode, as it would be.
  returned: success
  type: dict
  sample: {ceph: {flags_set: [noout], osdmap_epoch: 68}, workers: {cordoned: [node-01]}}
existed:
  description: Whether a record was there before this call.
  returned: success
  type: bool
  sample: true
unfinished:
  description: What the record says is still to be undone.
  returned: success
  type: dict
  sample: {flags: [noout, norecover], cordoned: [node-01], filesystems: [cephfs], hosts_off: [node-01]}
retired_to:
  description: Where V(retire) moved the record.
  returned: when a record was retired
  type: str
  sample: /root/.blackstart/mysite/blackstart-state.done-20261201T210000Z.json
'''
