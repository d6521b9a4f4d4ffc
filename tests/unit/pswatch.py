# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Watch every command line on this machine while a block runs: a secret must never be on one."""

from __future__ import annotations

import os
import threading


class PsWatch:
    """Every command line seen on this machine while the block runs (sampled every 0.1 s)."""

    def __init__(self):
        self.lines: set[str] = set()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for d in os.listdir('/proc'):
                if d.isdigit():
                    try:
                        with open(f'/proc/{d}/cmdline', 'rb') as f:
                            self.lines.add(f.read().replace(b'\0', b' ').decode(errors='replace'))
                    except OSError:
                        pass
            self._stop.wait(0.1)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
