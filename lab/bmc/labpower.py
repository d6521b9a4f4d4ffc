"""The one place the BMC emulators touch the lab: `lab/power status|on|off|kill HOST`.

A real BMC answers a power request at once and carries it out in the background; so do these: `request()`
starts lab/power and returns, `is_on()` asks lab/power (a podman inspect, ~0.1 s). Each child is reaped by
`reap()`, which the emulators call from their loops (PID 1 of this sandbox reaps nothing)."""

from __future__ import annotations

import json
import logging
import os
import shlex
import stat
import subprocess
import sys
import threading
from pathlib import Path

LAB_POWER = str(Path(__file__).resolve().parent.parent / "power")
LOG = logging.getLogger("labbmc")


def setup_logging(name: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"%(asctime)s {name} %(levelname)s %(message)s")


class LabPower:
    def __init__(self, command: str | None = None):
        # e.g. "env BLACKSTART_LAB_STATE=/x/lab/.state-3 /x/lab/power"; default: lab/power beside this folder
        # (it reads BLACKSTART_LAB_INSTANCE / BLACKSTART_LAB_STATE from the environment)
        self.argv = shlex.split(command) if command else [LAB_POWER]
        self._children: list[tuple[str, subprocess.Popen]] = []
        self._lock = threading.Lock()

    def _run(self, action: str, host: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv + [action, host], capture_output=True, text=True, timeout=timeout,
                              check=False)

    def is_on(self, host: str) -> bool:
        p = self._run("status", host)
        if p.returncode != 0:
            raise RuntimeError(f"lab/power status {host} failed rc={p.returncode}: {p.stderr.strip()}")
        return p.stdout.strip().endswith("running")

    def request(self, action: str, host: str) -> None:
        """Start lab/power ACTION HOST in the background (on, off = clean, kill = hard)."""
        self.reap()
        LOG.info("power %s %s", action, host)
        p = subprocess.Popen(self.argv + [action, host], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        with self._lock:
            self._children.append((f"{action} {host}", p))

    def reap(self) -> None:
        with self._lock:
            left = []
            for what, p in self._children:
                if p.poll() is None:
                    left.append((what, p))
                else:
                    out = (p.stdout.read() if p.stdout else "").strip()
                    LOG.info("lab/power %s: rc=%s %s", what, p.returncode, out)
            self._children = left

    def wait_all(self, timeout: float = 200) -> None:
        for _, p in list(self._children):
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
        self.reap()


def read_secret_file(path: str) -> dict:
    """A JSON credentials file that only its owner can read ({"user": ..., "password": ...}, or more keys).
    Refused when group/other may read it: a password never comes from a command line or a world-readable file."""
    st = os.stat(path)
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SystemExit(f"{path}: mode {stat.S_IMODE(st.st_mode):04o}, must be 0600 (it holds a password)")
    return json.loads(Path(path).read_text())
