# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The typos filter: the variable names that look like a misspelt known option."""

from __future__ import annotations

import difflib


def typos(names, known, prefixes=None, cutoff=0.85):
    """Each name of ``names`` that is not in ``known`` but close to one of them (and, when ``prefixes`` is
    given, starts with one of them), as 'NAME (did you mean KNOWN?)'. A name far from every option (another
    tool's variable, such as ceph-ansible's ceph_origin) is not listed."""
    known = list(known or [])
    out = []
    for name in sorted(set(names or [])):
        if name in known or (prefixes and not any(name.startswith(p) for p in prefixes)):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=float(cutoff))
        if close:
            out.append('%s (did you mean %s?)' % (name, close[0]))
    return out


class FilterModule(object):
    def filters(self):
        return {'typos': typos}
