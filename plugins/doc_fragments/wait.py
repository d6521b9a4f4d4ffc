# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):

    # The options every gate shares (Ceph, etcd, Kubernetes), and what a gate does.
    DOCUMENTATION = r'''
options:
  timeout:
    description:
      - Seconds to wait for the gate, on a monotonic clock. V(0) checks once.
    type: float
    default: 300
  poll:
    description:
      - The longest pause between two checks, in seconds. The first check runs at once, the next ones after
        0.25 s, growing 1.5 times each up to O(poll).
    type: float
    default: 1.0
notes:
  - Errors that waiting may fix (the CLI timed out, no quorum yet, connection refused) are retried and counted
    in RV(transient_errors); errors it cannot fix (unknown names, rejected commands) fail at once.
  - On timeout the module fails with a message naming each thing still missing, and returns the last state it saw.
attributes:
  check_mode:
    support: full
    details: In check mode the gate is evaluated once and never waits; when not ready the module warns and succeeds.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A gate only reads.
'''
