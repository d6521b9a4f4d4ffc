#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: ceph_fs
short_description: Take CephFS filesystems down cleanly before a power-off, and bring them back
version_added: 0.1.0
description:
  - O(state=down) with O(method=fail) (the default) asks each active MDS of a filesystem that is still joinable to
    flush its journal (C(ceph tell mds.<name> flush journal)), then runs C(ceph fs fail <fs>), as cephadm's own
    cluster shutdown does. The ranks are failed and the filesystem not joinable; on the way back an MDS replays a
    short journal, the path every outage takes.
  - O(state=down) with O(method=down) runs C(ceph fs set <fs> down true) instead (the ranks stop gracefully and
    are restarted from C(stopped)). On Ceph 16.2.15 the lab measured that path leaving the root's C(volumes)
    dentry damaged (C(MDS_DAMAGE)) in 3 of 4 whole-cluster power cycles, when the other MDS took the rank back.
  - Either way it then waits until none of the filesystem's ranks is up, so nothing is in flight when the MDS
    daemons stop.
  - O(state=up) runs C(ceph fs set <fs> down false) for a filesystem that is down (C(max_mds) 0) and
    C(ceph fs set <fs> joinable true) for one that is not joinable (as C(ceph fs fail) leaves it). It does not
    wait for the ranks; M(blackstart.cluster.ceph_mds_wait) does.
  - Reads the FSMap first and changes only what is not already as asked.
author:
  - blackstart contributors (@blackstart)
extends_documentation_fragment:
  - blackstart.cluster.attributes
  - blackstart.cluster.ceph
attributes:
  check_mode:
    support: full
    details: Reports which filesystems would change and the commands, runs none and does not wait.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  filesystems:
    description:
      - Names of the filesystems. Default is every filesystem. A name that does not exist fails at once.
    type: list
    elements: str
  state:
    description:
      - V(down) to take the filesystems down, V(up) to bring them back.
    type: str
    choices: [down, up]
    required: true
  method:
    description:
      - With O(state=down), how the filesystems are taken down. V(fail) - journals flushed, then C(ceph fs fail).
        V(down) - C(ceph fs set <fs> down true).
    type: str
    choices: [fail, down]
    default: fail
  timeout:
    description:
      - With O(state=down), seconds to wait for the ranks to stop. V(0) does not wait.
    type: float
    default: 120
  poll:
    description:
      - The longest pause between two reads while waiting.
    type: float
    default: 1.0
'''

EXAMPLES = r'''
- name: Flush the MDS journals and stop the ranks before stopping the MDS daemons
  blackstart.cluster.ceph_fs:
    state: down
  register: ceph_fs_down

- name: After the OSDs are back, bring back the filesystems this power-off took down
  blackstart.cluster.ceph_fs:
    state: up
    filesystems: "{{ ceph_fs_down.changed_filesystems }}"
'''

RETURN = r'''
changed_filesystems:
  description:
    - The filesystems this call changed.
    - Also on failure - those changed before it (with O(state=down), the one whose command failed counts as changed,
      so that a record of what to bring back up misses none).
  returned: always
  type: list
  elements: str
  sample: [cephfs]
filesystems:
  description: Each filesystem asked about, as read before the change - name, max_mds, joinable, ranks up.
  returned: success
  type: list
  elements: dict
  sample: [{name: cephfs, max_mds: 1, joinable: true, ranks_up: 1}]
commands:
  description: The commands run (in check mode, that would run), as argument lists.
  returned: success
  type: list
  elements: list
  sample: [[ceph, --connect-timeout, '10', tell, mds.ceph1, flush, journal], [ceph, --connect-timeout, '10', fs, fail, cephfs]]
elapsed:
  description: Seconds spent waiting for the ranks to stop.
  returned: success
  type: float
  sample: 6.2
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.blackstart.cluster.plugins.module_utils._ceph import (
    CephCommandError, ceph_argument_spec, cli_from_module)
from ansible_collections.blackstart.cluster.plugins.module_utils._wait import GateInputError, Observation, wait_for


def select(fsmap, names):
    by_name = dict((fs['name'], fs) for fs in fsmap['filesystems'])
    unknown = [n for n in names or [] if n not in by_name]
    if unknown:
        raise GateInputError('filesystem %s does not exist (filesystems: %s)'
                             % (', '.join(unknown), ', '.join(sorted(by_name)) or 'none'))
    return [by_name[n] for n in (names or sorted(by_name))]


def changes(fs, state, method='down'):
    """The `ceph` arguments that bring ``fs`` to ``state``, in order."""
    if state == 'down' and method == 'fail':
        if not fs['joinable'] and not fs['ranks']:
            return []
        flush = [['tell', 'mds.%s' % r['name'], 'flush', 'journal'] for _rank, r in sorted(fs['ranks'].items())
                 if r.get('name') and r.get('state') == 'up:active' and not r.get('laggy_since')]
        return flush + [['fs', 'fail', fs['name']]]
    if state == 'down':
        return [['fs', 'set', fs['name'], 'down', 'true']] if fs['max_mds'] > 0 else []
    todo = []
    if fs['max_mds'] == 0:
        todo.append(['fs', 'set', fs['name'], 'down', 'false'])
    if not fs['joinable']:
        todo.append(['fs', 'set', fs['name'], 'joinable', 'true'])
    return todo


def main():
    argument_spec = ceph_argument_spec()
    argument_spec.update(
        filesystems=dict(type='list', elements='str'),
        state=dict(type='str', choices=['down', 'up'], required=True),
        method=dict(type='str', choices=['fail', 'down'], default='fail'),
        timeout=dict(type='float', default=120.0),
        poll=dict(type='float', default=1.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    cli = cli_from_module(module)
    state = module.params['state']
    done = []
    try:
        chosen = select(cli.fs_dump(), module.params['filesystems'])
        plan = [(fs['name'], args) for fs in chosen for args in changes(fs, state, module.params['method'])]
        if not module.check_mode:
            for name, args in plan:
                try:
                    cli.run(args, fmt_json=False)
                except CephCommandError:
                    # `fs fail` / `fs set … down true` may have been applied before the error: a record of what to bring back
                    # up must not miss it (bringing up a filesystem that is up changes nothing).
                    if state == 'down' and name not in done:
                        done.append(name)
                    raise
                if name not in done:
                    done.append(name)
        names = sorted(set(name for name, _args in plan))
        elapsed = 0.0
        if state == 'down' and not module.check_mode and module.params['timeout'] > 0:
            def stopped():
                now = select(cli.fs_dump(), [fs['name'] for fs in chosen])
                busy = ['fs %s rank %d on mds.%s is %s' % (fs['name'], r, v['name'], v['state'])
                        for fs in now for r, v in sorted(fs['ranks'].items())]
                return Observation(not busy, {}, busy)
            result = wait_for(stopped, module.params['timeout'], module.params['poll'])
            elapsed = round(result.elapsed, 3)
            if not result.ready:
                module.fail_json(msg='took the filesystems down (%s) but ranks did not stop: ' % module.params['method']
                                 + result.summary('filesystems down'), changed=bool(names), changed_filesystems=names)
    except CephCommandError as exc:
        module.fail_json(msg=str(exc) + (' (changed before the failure: %s)' % ', '.join(done) if done else ''),
                         changed=bool(done), changed_filesystems=sorted(done), **exc.details())
    except GateInputError as exc:
        module.fail_json(msg=str(exc), changed=False, changed_filesystems=[])
    module.exit_json(
        changed=bool(plan),
        changed_filesystems=names,
        filesystems=[dict(name=fs['name'], max_mds=fs['max_mds'], joinable=fs['joinable'], ranks_up=len(fs['ranks']))
                     for fs in chosen],
        commands=[cli.argv(args, fmt_json=False) for _name, args in plan],
        elapsed=elapsed,
    )


if __name__ == '__main__':
    main()
