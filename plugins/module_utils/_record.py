# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The power cycle's write-ahead record on the controller: what a power-off changed (or was about to change),
so that a power-on undoes exactly that, even after a run that was killed at any point.

Rules, each one a lesson of a cycle that failed half-way:
- merge, never overwrite: dicts merge recursively, lists are unions (a rerun that cordons nothing must not
  forget the nodes the first run cordoned), scalars are replaced;
- written atomically (temporary file, fsync, rename) with mode 0600 in a 0700 directory;
- it names the cluster it belongs to (Ceph fsid, kube-system namespace UID): a record of another cluster is
  refused, never merged;
- it is retired (renamed) after a completed power-on, so no later run undoes what someone changed since.

Private to the collection (leading underscore). Pure functions plus small file helpers; the action plugin
``cycle_record`` drives them on the controller.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import subprocess
import tempfile

RECORD_VERSION = 2
IDENTITY_KEYS = ('ceph_fsid', 'kube_system_uid')


class RecordError(Exception):
    """The record cannot be read, written or used. ``str()`` says why and what to do."""


def merge(base, update):
    """A new dict: ``update`` merged into ``base``. Dicts merge recursively, lists are unions in first-seen
    order, anything else is replaced. ``None`` in ``update`` leaves the value in ``base`` alone."""
    out = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, new in (update or {}).items():
        old = out.get(key)
        if new is None:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            out[key] = merge(old, new)
        elif isinstance(old, list) and isinstance(new, list):
            out[key] = old + [item for item in new if item not in old]
        else:
            out[key] = copy.deepcopy(new)
    return out


def identity_conflicts(recorded, current):
    """[(key, recorded value, current value)] for every identity key both know and that differs."""
    recorded = recorded or {}
    current = current or {}
    return [(key, recorded[key], current[key]) for key in IDENTITY_KEYS
            if recorded.get(key) and current.get(key) and recorded[key] != current[key]]


def conflict_message(path, conflicts):
    what = ', '.join('%s %s (this cluster: %s)' % (k, old, new) for k, old, new in conflicts)
    return ('the record %s belongs to another cluster: %s. It was left by a power cycle of that cluster (or of this '
            'lab before it was rebuilt); using it would unset flags and uncordon nodes of a cycle that never ran here. '
            'Move it aside (mv %s %s.other) after reading it, or point blackstart_state_file elsewhere'
            % (path, what, path, path))


def _pending(done, undone):
    return [item for item in (done or []) if item not in (undone or [])]


def unfinished(record):
    """What the record says is still to be undone: {'flags': [...], 'cordoned': [...], 'filesystems': [...],
    'hosts_off': [...]} - what a power-off did minus what a power-on has undone since - empty lists when nothing
    is pending."""
    record = record or {}
    ceph = record.get('ceph') or {}
    workers = record.get('workers') or {}
    return dict(flags=_pending(ceph.get('flags_set'), ceph.get('flags_unset')),
                cordoned=_pending(workers.get('cordoned'), workers.get('uncordoned')),
                filesystems=_pending(ceph.get('filesystems_down'), ceph.get('filesystems_up')),
                hosts_off=_pending(record.get('hosts_off'), record.get('hosts_on')))


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock beside the record for a read-merge-write (parallel hosts write to one record)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        handle = os.open(path + '.lock', os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise RecordError('cannot lock the record %s: %s. Make its directory writable, or set blackstart_state_file'
                          % (path, exc))
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def load(path):
    """The record at ``path`` ({} when there is none)."""
    try:
        with open(path, 'r') as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        if getattr(exc, 'errno', None) == 2:
            return {}
        raise RecordError('cannot read the record %s: %s. Check its permissions (it is written 0600 by the user '
                          'who runs the playbooks)' % (path, exc))
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise RecordError('the record %s is not valid JSON (%s): a write was interrupted or it was edited by hand. '
                          'Nothing was written by this run; fix or move it aside, reading what it says was changed'
                          % (path, exc))
    if not isinstance(data, dict):
        raise RecordError('the record %s holds a %s, not an object: move it aside' % (path, type(data).__name__))
    return data


def write(path, data):
    """Write ``data`` to ``path`` atomically: 0700 directory, 0600 file, fsync, rename."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, 'w') as handle:
                handle.write(json.dumps(data, indent=2, sort_keys=True) + '\n')
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except (IOError, OSError) as exc:
        raise RecordError('cannot write the record %s: %s. Nothing further was changed; make the directory '
                          'writable (or set blackstart_state_file) and run again: the run resumes' % (path, exc))


def retired_name(path, stamp):
    base = path[:-len('.json')] if path.endswith('.json') else path
    return '%s.done-%s.json' % (base, stamp)


def git_worktree(path):
    """The git work tree that ``path`` (a file or directory, existing or not) would land in, or None."""
    current = os.path.abspath(path)
    while True:
        if os.path.exists(os.path.join(current, '.git')):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def git_exposed(path):
    """The git work tree in which ``path`` could be committed: inside it and not ignored by its .gitignore
    (asked of git itself; without git, inside is enough). None when it is safe."""
    tree = git_worktree(path)
    if tree is None:
        return None
    try:
        rc = subprocess.call(['git', '-C', tree, 'check-ignore', '-q', '--no-index', os.path.abspath(path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30,
                             env=dict(os.environ, LC_ALL='C'))
    except (OSError, subprocess.TimeoutExpired):
        return tree
    return None if rc == 0 else tree
