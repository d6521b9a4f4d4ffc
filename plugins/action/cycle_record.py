# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of blackstart.cluster.cycle_record: runs on the controller, whatever the task's host, because
the record must survive the hosts it describes. The rules live in module_utils/_record.py."""

from __future__ import annotations

import datetime
import os

from ansible.plugins.action import ActionBase

from ansible_collections.blackstart.cluster.plugins.module_utils import _record

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    op=dict(type='str', default='update', choices=['open', 'update', 'read', 'retire']),
    update=dict(type='dict', default={}),
    event=dict(type='str'),
    cluster=dict(type='dict', default={}),
    check_paths=dict(type='list', elements='path', default=[]),
    allow_in_git=dict(type='bool', default=False),
)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        self._task_vars = task_vars
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        path = args['path']
        result.update(path=path, changed=False)
        try:
            self._refuse_git_worktrees(args)
            if args['op'] == 'read':
                before = _record.load(path)
                return self._done(result, before, before)
            if self._task.check_mode:
                return self._apply(result, path, args)
            with _record.locked(path):
                return self._apply(result, path, args)
        except _record.RecordError as exc:
            result.update(failed=True, msg=str(exc))
            return result

    def _apply(self, result, path, args):
        before = _record.load(path)
        if args['op'] == 'retire':
            return self._retire(result, path, before)
        after = self._next(path, before, args)
        if after != before and not self._task.check_mode:
            _record.write(path, after)
        result['changed'] = after != before
        return self._done(result, before, after)

    def _refuse_git_worktrees(self, args):
        if args['allow_in_git']:
            return
        for candidate in [args['path']] + list(args['check_paths']):
            tree = _record.git_exposed(candidate)
            if tree:
                raise _record.RecordError(
                    '%s is inside the git work tree %s and not ignored there: the state file and the etcd snapshot (which holds every '
                    'Secret of the cluster) must not land where a commit can carry them. Set blackstart_state_file '
                    '/ blackstart_etcd_snapshot_dir outside it (the default is ~/.blackstart/<inventory name>/), or '
                    'blackstart_allow_in_git=true if that tree is really private' % (candidate, tree))

    def _next(self, path, before, args):
        cluster = dict((k, v) for k, v in (args['cluster'] or {}).items() if v)
        conflicts = _record.identity_conflicts(before.get('cluster'), cluster)
        if conflicts:
            raise _record.RecordError(_record.conflict_message(path, conflicts))
        after = _record.merge(before, args['update'])
        if cluster:
            after = _record.merge(after, {'cluster': cluster})
        if args['op'] == 'open' and not (before.get('cycle') or {}).get('id'):
            stamp = _now()
            after = _record.merge(after, {'version': _record.RECORD_VERSION,
                                          'cycle': {'id': stamp.replace('-', '').replace(':', ''), 'opened': stamp}})
        if args['event']:
            host = (self._task_vars or {}).get('inventory_hostname')
            event = {'at': _now(), 'what': args['event']}
            if host:
                event['host'] = host
            after['events'] = list(after.get('events') or []) + [event]
        return after

    def _retire(self, result, path, before):
        if not before:
            return self._done(result, before, before)
        target = _record.retired_name(path, _now().replace('-', '').replace(':', ''))
        result.update(changed=True, retired_to=target)
        if not self._task.check_mode:
            try:
                os.rename(path, target)
            except OSError as exc:
                raise _record.RecordError('cannot retire the record %s to %s: %s' % (path, target, exc))
        return self._done(result, before, {})

    def _done(self, result, before, after):
        result.update(record=after, existed=bool(before), unfinished=_record.unfinished(after))
        if self._task.diff:
            result['diff'] = dict(before=before, after=after, before_header=result['path'], after_header=result['path'])
        return result
