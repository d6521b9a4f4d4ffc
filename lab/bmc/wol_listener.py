#!/usr/bin/env python3
"""A Wake-on-LAN listener for the lab hosts: sees the magic packet (6 x 0xFF, then the MAC 16 times) on a UDP
port and powers on the host with that MAC through lab/power - what a NIC with WoL armed does to its machine.

    wol_listener.py CONFIG.json  # {"address": "127.0.0.1", "port": 40009, "hosts": {"02:00:0a:d5:03:33": "pw1"},
                                 #  "power_command": "lab/power (default)"}

Bind to 127.0.0.1 (send with broadcast 127.0.0.1) or to the lab bridge's broadcast address. Each packet seen is
logged: "magic packet for MAC -> HOST" or "magic packet for MAC: no such lab host"; other datagrams are ignored.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labpower import LOG, LabPower, setup_logging  # noqa: E402


def magic_mac(data: bytes) -> str | None:
    """The MAC a Wake-on-LAN magic packet wakes, or None if DATA is not one (a SecureOn password may follow)."""
    if len(data) < 102 or data[:6] != b"\xff" * 6:
        return None
    mac = data[6:12]
    if data[6:102] != mac * 16:
        return None
    return ":".join(f"{b:02x}" for b in mac)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    setup_logging("wol")
    cfg = json.loads(Path(argv[1]).read_text())
    hosts = {m.lower(): h for m, h in cfg["hosts"].items()}
    power = LabPower(cfg.get("power_command"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.bind((cfg.get("address", "127.0.0.1"), int(cfg.get("port", 9))))
    sock.settimeout(1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    LOG.info("listening on udp %s:%s for %s", *sock.getsockname(), ", ".join(f"{m}={h}" for m, h in hosts.items()))
    print("READY", flush=True)
    while True:
        power.reap()
        try:
            data, peer = sock.recvfrom(2048)
        except socket.timeout:
            continue
        mac = magic_mac(data)
        if mac is None:
            LOG.info("from %s:%s: %d bytes, not a magic packet", *peer, len(data))
        elif mac not in hosts:
            LOG.info("magic packet for %s from %s:%s: no such lab host", mac, *peer)
        else:
            LOG.info("magic packet for %s from %s:%s -> %s", mac, *peer, hosts[mac])
            if not power.is_on(hosts[mac]):
                power.request("on", hosts[mac])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
