"""Start the lab's BMC emulators (IPMI, Redfish, Wake-on-LAN) for some hosts and say how to reach them.

Used by the tests (tests/lab_power, tests/unit/roles/test_power_backends.py) and by hand:

    BLACKSTART_LAB_INSTANCE=3 .venv/bin/python lab/bmc/peers.py pw1 pw2 pw3   # runs until Ctrl-C, prints the
                                                                             # inventory variables per host
Each emulator gets a config file (0600) in a private directory; passwords are random unless given, and
never appear on a command line. Ports: free ports on 127.0.0.1 chosen at start.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port(kind: int = socket.SOCK_DGRAM, address: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def _write_private(path: Path, data: dict) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    return path


class Peers:
    """The three emulators for HOSTS; `vars(host)` gives the role's variables to reach each of them."""

    def __init__(self, workdir: Path, hosts: list[str], macs: dict[str, str] | None = None,
                 power_command: str | None = None, python: str = sys.executable,
                 ipmi_password: str | None = None, redfish_password: str | None = None,
                 wol_address: str = "127.0.0.1", env: dict | None = None):
        self.dir = Path(workdir)
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.hosts, self.macs = list(hosts), dict(macs or {})
        self.power_command, self.python = power_command, python
        self.env = dict(os.environ if env is None else env)
        self.ipmi_user, self.ipmi_password = "blackstart", ipmi_password or "ipmi-" + secrets.token_hex(8)
        self.redfish_user, self.redfish_password = "blackstart", redfish_password or "rf-" + secrets.token_hex(8)
        self.ipmi_ports = {h: free_port() for h in hosts}
        self.redfish_port = free_port(socket.SOCK_STREAM)
        self.wol_address, self.wol_port = wol_address, free_port(address=wol_address)
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def secrets(self) -> list[str]:
        return [self.ipmi_password, self.redfish_password]

    def _start(self, name: str, script: str, cfg: dict) -> None:
        conf = _write_private(self.dir / f"{name}.json", cfg)
        log = open(self.dir / f"{name}.log", "w")
        p = subprocess.Popen([self.python, str(HERE / script), str(conf)], stdout=subprocess.PIPE, stderr=log,
                             text=True, env=self.env, start_new_session=True)
        line = p.stdout.readline()  # "READY" once it listens
        if line.strip() != "READY":
            p.kill()
            raise RuntimeError(f"{name} emulator did not start: {(self.dir / f'{name}.log').read_text()[-2000:]}")
        self.procs[name] = p

    def start(self) -> "Peers":
        pc = {"power_command": self.power_command} if self.power_command else {}
        self._start("ipmi", "ipmi_bmc.py", {"user": self.ipmi_user, "password": self.ipmi_password,
                                            "address": "127.0.0.1", "hosts": self.ipmi_ports, **pc})
        self._start("redfish", "redfish_bmc.py", {"user": self.redfish_user, "password": self.redfish_password,
                                                  "address": "127.0.0.1", "port": self.redfish_port,
                                                  "hosts": self.hosts, "state_dir": str(self.dir / "redfish"), **pc})
        self._start("wol", "wol_listener.py", {"address": self.wol_address, "port": self.wol_port,
                                               "hosts": {m: h for h, m in self.macs.items()}, **pc})
        deadline = time.monotonic() + 20  # the HTTPS server answers a moment after READY
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.redfish_port), 1).close()
                break
            except OSError:
                time.sleep(0.2)
        return self

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        self.procs.clear()

    def log(self, name: str) -> str:
        f = self.dir / f"{name}.log"
        return f.read_text() if f.exists() else ""

    def vars(self, host: str, backend: str) -> dict:
        """The role's variables (power_*) for HOST through BACKEND."""
        if backend == "ipmi":
            return {"power_backend": "ipmi", "power_ipmi": {
                "name": "127.0.0.1", "port": self.ipmi_ports[host], "user": self.ipmi_user,
                "password": self.ipmi_password}}
        if backend == "redfish":
            return {"power_backend": "redfish", "power_redfish": {
                "baseuri": f"127.0.0.1:{self.redfish_port}", "username": self.redfish_user,
                "password": self.redfish_password, "resource_id": host, "validate_certs": True,
                "ca_path": str(self.dir / "redfish" / "tls.crt")}}
        if backend == "wol":
            return {"power_backend": "wol", "power_wol": {
                "mac": self.macs[host], "broadcast": self.wol_address, "port": self.wol_port}}
        raise ValueError(backend)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv: list[str]) -> int:
    import tempfile
    import yaml
    hosts = argv[1:]
    if not hosts:
        print(__doc__, file=sys.stderr)
        return 2
    inst = os.environ.get("BLACKSTART_LAB_INSTANCE", "0")
    state = HERE.parent / (".state" if inst in ("", "0") else f".state-{inst}")
    inv = yaml.safe_load((state / "inventory" / "hosts.yml").read_text()) if (state / "inventory").is_dir() else {}
    hv = inv.get("all", {}).get("children", {}).get("lab", {}).get("hosts", {})
    macs = {h: hv.get(h, {}).get("lab_mac", "02:00:00:00:00:00") for h in hosts}
    with Peers(Path(tempfile.mkdtemp(prefix="blackstart-bmc-")), hosts, macs) as peers:
        for h in hosts:
            print(yaml.safe_dump({h: {b: peers.vars(h, b) for b in ("ipmi", "redfish", "wol")}}), flush=True)
        print(f"# emulator logs and configs in {peers.dir}; Ctrl-C stops", flush=True)
        try:
            while all(p.poll() is None for p in peers.procs.values()):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
