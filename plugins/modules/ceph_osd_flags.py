#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ceph_osd_flags
short_description: Set or unset Ceph cluster-wide OSD flags, and say which ones this call changed
version_added: 0.1.0
description:
  - Reads the flags of the OSD map first, then runs C(ceph osd set) or C(ceph osd unset) only for the flags
    that are not already as asked.
  - Returns the flags before and after, and exactly which flags this call changed, so that a power-on can
    unset only what the power-off set and a flag an operator had set beforehand (say V(noout)) survives.
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.ceph
attributes:
  check_mode:
    support: full
    details: Predicts RV(flags_after) and RV(changed_flags) from the flags read, and changes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  flags:
    description:
      - The flags to set or unset.
      - V(pause) stands for the pair C(pauserd) and C(pausewr).
      - Read the collection's C(docs/flags.md) before setting V(nodown) or V(pause). With V(nodown) set, stopped
        OSDs stay "up" in the map; an MDS started while V(pause) is set stays in C(up:replay).
    type: list
    elements: str
    required: true
    choices: [noout, norecover, norebalance, nobackfill, nodown, pause, noup, noscrub, nodeep-scrub, noin]
  state:
    description:
      - V(present) sets the flags, V(absent) unsets them.
    type: str
    choices: [present, absent]
    default: present
'''

EXAMPLES = r'''
- name: Set the maintenance flags before stopping OSDs, and remember which ones were ours
  blackstart.cluster.ceph_osd_flags:
    flags: [noout, norecover, norebalance, nobackfill]
    state: present
  register: ceph_flags

- name: After the OSDs are back, unset only the flags the power-off set
  blackstart.cluster.ceph_osd_flags:
    flags: "{{ ceph_flags.changed_flags }}"
    state: absent
  when: ceph_flags.changed_flags | length > 0

- name: Use another cluster and a non-admin user with its keyring file
  blackstart.cluster.ceph_osd_flags:
    flags: [noout]
    cluster: backup
    user: client.blackstart
    keyring: /etc/ceph/backup.client.blackstart.keyring
'''

RETURN = r'''
flags_before:
  description:
    - The OSD map flags read before any change (C(pause) added when both C(pauserd) and C(pausewr) are set); empty
      when they could not be read.
  returned: always
  type: list
  elements: str
  sample: [noout, sortbitwise, recovery_deletes, purged_snapdirs, pglog_hardlimit]
flags_after:
  description: The flags after this call; in check mode, the prediction.
  returned: success
  type: list
  elements: str
  sample: [nobackfill, noout, norebalance, norecover, sortbitwise, recovery_deletes, purged_snapdirs, pglog_hardlimit]
changed_flags:
  description:
    - The flags this call set (O(state=present)) or unset (O(state=absent)); empty when none needed it.
    - Also on failure - the flags changed before it (read again after the failure; when that fails too, a flag whose
      C(ceph osd set) failed counts as set, so that a record of what to undo misses none).
  returned: always
  type: list
  elements: str
  sample: [norecover, norebalance, nobackfill]
already:
  description: The requested flags that were already as asked and were left alone (also on failure, once the flags were read).
  returned: always
  type: list
  elements: str
  sample: [noout]
epoch:
  description:
    - The OSD map epoch after this call (in check mode, the epoch read). A power-off stores it, so that
      power-on counts an OSD as running only if it booted after it (O(blackstart.cluster.ceph_osd_wait#module:since_epoch)).
  returned: success
  type: int
  sample: 68
commands:
  description: The commands run (or, in check mode, that would run), as argument lists.
  returned: success
  type: list
  elements: list
  sample: [[ceph, --connect-timeout, '10', osd, set, norecover]]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import (
    OSD_FLAGS, CephCommandError, ceph_argument_spec, cli_from_module)


def changed_after_failure(cli, before, todo, done, failing, want_on):
    """Which flags of ``todo`` a call that failed at ``failing`` changed: read again; if that fails too, the ones
    done plus, when setting, the failing one (it may have been applied before the error: a record must not miss a
    flag to unset; unsetting a flag that is not set changes nothing)."""
    try:
        now = cli.osd_dump()['flags']
    except CephCommandError:
        return done + ([failing] if want_on else [])
    return [f for f in todo if (f in now) != (f in before)]


def main():
    argument_spec = ceph_argument_spec()
    argument_spec.update(
        flags=dict(type='list', elements='str', required=True, choices=list(OSD_FLAGS)),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    cli = cli_from_module(module)
    want_on = module.params['state'] == 'present'
    wanted = list(dict.fromkeys(module.params['flags']))  # keep order, drop repeats
    before, todo, done = None, [], []
    try:
        dump = cli.osd_dump()
        before = dump['flags']
        epoch = dump['epoch']
        todo = [f for f in wanted if (f in before) != want_on]
        commands = [cli.argv(['osd', 'set' if want_on else 'unset', f], fmt_json=False) for f in todo]
        if not module.check_mode:
            for flag in todo:
                try:
                    cli.osd_flag(flag, want_on)
                except CephCommandError:
                    done[:] = changed_after_failure(cli, before, todo, done, flag, want_on)
                    raise
                done.append(flag)
            if todo:
                dump = cli.osd_dump()
                after, epoch = dump['flags'], dump['epoch']
            else:
                after = before
        else:
            after = set(before)
            for flag in todo:
                parts = ('pauserd', 'pausewr', 'pause') if flag == 'pause' else (flag,)
                if want_on:
                    after.update(parts)
                else:
                    after.difference_update(parts)
    except CephCommandError as exc:
        # Say what was changed before the failure: the caller's record must know which flags to undo.
        module.fail_json(msg=str(exc) + (' (changed before the failure: %s)' % ', '.join(done) if done else ''),
                         changed=bool(done), changed_flags=done,
                         already=[f for f in wanted if f not in todo] if before is not None else [],
                         flags_before=sorted(before) if before is not None else [], **exc.details())
    if not module.check_mode:
        stuck = [f for f in todo if (f in after) != want_on]
        if stuck:
            module.fail_json(msg='ran `ceph osd %s` for %s but the OSD map still shows %s: another client changed them?'
                             % ('set' if want_on else 'unset', ', '.join(todo), ', '.join(stuck)),
                             changed=len(stuck) < len(todo), changed_flags=[f for f in todo if f not in stuck],
                             already=[f for f in wanted if f not in todo],
                             flags_before=sorted(before), flags_after=sorted(after))
    module.exit_json(
        changed=bool(todo),
        flags_before=sorted(before),
        flags_after=sorted(after),
        changed_flags=todo,
        epoch=epoch,
        already=[f for f in wanted if f not in todo],
        commands=commands,
        diff=dict(before='\n'.join(sorted(before)) + '\n', after='\n'.join(sorted(after)) + '\n'),
    )


if __name__ == '__main__':
    main()
