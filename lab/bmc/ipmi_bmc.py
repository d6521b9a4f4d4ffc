#!/usr/bin/env python3
"""IPMI-over-LAN BMCs for the lab hosts: pyghmi's BMC server class (as virtualbmc uses it), one UDP port per
host, whose chassis power commands run lab/power.

    ipmi_bmc.py CONFIG.json      # CONFIG mode 0600: {"user": "...", "password": "...",
                                 #   "address": "127.0.0.1", "hosts": {"pw1": 16231, ...},
                                 #   "power_command": "lab/power (default)"}

IPMI chassis control -> lab/power:  power on -> on,  soft off (ACPI shutdown) -> off (clean poweroff),
power off -> kill (hard power loss);  chassis status -> status.  The password never appears on a command line.
"""

from __future__ import annotations

import signal
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyghmi.ipmi.bmc as bmc  # noqa: E402
import pyghmi.ipmi.private.serversession as serversession  # noqa: E402
import pyghmi.ipmi.private.session as ipmisession  # noqa: E402

from labpower import LOG, LabPower, read_secret_file, setup_logging  # noqa: E402


# pyghmi's server (1.6.19) only speaks cipher suite 3 (RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128) but answers
# every RMCP+ open-session request as if the client had asked for it. Its own client (what
# community.general.ipmi_power uses) proposes suite 17 (SHA-256) first and falls back to suite 3 only when the
# BMC refuses - as a real BMC without suite 17 does. Without this it fails with "pack expected 32 items for
# packing (got 20)" (measured). So refuse what is not suite 3, with status 0x11 (no cipher suite match).
_SUITE3 = {12: 1, 20: 1, 28: 1}  # byte offset of the auth/integrity/confidentiality algorithm -> its number
_open_session_response = serversession.ServerSession.create_open_session_response


def _create_open_session_response(self, request):
    if len(request) >= 32 and any(request[i] != v for i, v in _SUITE3.items()):
        self.clientsessionid = request[4:8]
        LOG.info("open session: refused algorithms %s (only cipher suite 3)", [request[i] for i in _SUITE3])
        return bytearray([request[0], 0x11, 0, 0]) + request[4:8]
    return _open_session_response(self, request)


serversession.ServerSession.create_open_session_response = _create_open_session_response


class LabBmc(bmc.Bmc):
    def __init__(self, host: str, power: LabPower, authdata: dict, port: int, address: str):
        super().__init__(authdata, port=port, address=address,
                         bmcuuid=uuid.uuid5(uuid.NAMESPACE_DNS, f"{host}.bmc.blackstart-lab"))
        self.host, self.power = host, power

    def get_system_guid(self):
        return self.uuid

    def get_power_state(self):
        state = "on" if self.power.is_on(self.host) else "off"
        LOG.info("%s: chassis status -> %s", self.host, state)
        return state

    def power_on(self):
        self.power.request("on", self.host)

    def power_off(self):  # IPMI "power down": no OS involvement
        self.power.request("kill", self.host)

    def power_shutdown(self):  # IPMI "soft off": ask the OS to shut down (ACPI)
        self.power.request("off", self.host)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    setup_logging("ipmi-bmc")
    cfg = read_secret_file(argv[1])
    power = LabPower(cfg.get("power_command"))
    address = cfg.get("address", "127.0.0.1")
    bmcs = [LabBmc(h, power, {cfg["user"]: cfg["password"]}, int(p), address) for h, p in cfg["hosts"].items()]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    LOG.info("listening on %s: %s", address, ", ".join(f"{b.host}=udp/{b.port}" for b in bmcs))
    print("READY", flush=True)
    try:
        while True:
            ipmisession.Session.wait_for_rsp(1)
            power.reap()
    finally:
        power.wait_all(30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
