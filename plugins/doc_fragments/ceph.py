# -*- coding: utf-8 -*-
# Copyright (c) 2026, blackstart contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):

    # The ceph CLI client options shared by every Ceph module.
    DOCUMENTATION = r'''
options:
  executable:
    description:
      - Name or absolute path of the C(ceph) command-line tool on the host the task runs on.
    type: str
    default: ceph
  cluster:
    description:
      - Cluster name, passed as C(--cluster). Selects C(/etc/ceph/<cluster>.conf) when O(conf) is not set.
    type: str
  conf:
    description:
      - Path of the C(ceph.conf) to use, passed as C(--conf).
    type: path
  user:
    description:
      - CephX user, as an id (V(admin)) or a full name (V(client.admin)). Passed as C(--id) or C(--name).
    type: str
  keyring:
    description:
      - Path of the keyring file holding the key of O(user). Only the path is passed on the command line,
        never the key. The file must exist and be readable, else the module fails before running anything.
    type: path
  cli_timeout:
    description:
      - Seconds one C(ceph) call may take. Bounds the monitor connection (C(--connect-timeout)), every monitor
        and OSD operation (C(--rados_mon_op_timeout), C(--rados_osd_op_timeout)) and, through the C(timeout) command
        when the host has it, the whole process (twice this plus 5 seconds), because mgr commands otherwise
        hang for ever when no mgr is active.
    type: int
    default: 10
notes:
  - Every command runs as an argument list with C(LC_ALL=C) and C(--format json); a failure names the
    command, its exit code and stderr.
requirements:
  - The C(ceph) CLI (package C(ceph-common)) on the host the task runs on, usually a mon host.
'''
