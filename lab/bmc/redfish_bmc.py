#!/usr/bin/env python3
"""A Redfish BMC for the lab hosts: sushy-tools' emulator (sushy-emulator) with a systems driver whose
ComputerSystems are the lab hosts and whose power actions run lab/power.

    redfish_bmc.py CONFIG.json   # CONFIG mode 0600: {"user": "...", "password": "...", "address": "127.0.0.1",
                                 #   "port": 18000, "hosts": ["pw1", ...], "power_command": "lab/power (default)",
                                 #   "state_dir": "a private directory (the htpasswd file and the driver state)"}

Systems/<host> (the Id is the host name; UUID from it): PowerState from `lab/power status`;
ComputerSystem.Reset On/ForceOn -> on, GracefulShutdown -> off (clean), ForceOff -> kill,
GracefulRestart/ForceRestart/PowerCycle -> off/kill then on. HTTPS with a self-signed certificate made here (STATE_DIR/tls.crt, also the CA to validate it: ca_path);
HTTP basic auth against a bcrypt htpasswd
file made here (0600); the password is read from CONFIG, never from a command line.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bcrypt  # noqa: E402
from sushy_tools import error  # noqa: E402
from sushy_tools.emulator import main as sushy_main  # noqa: E402
from sushy_tools.emulator.resources.systems import fakedriver  # noqa: E402

from labpower import LOG, LabPower, read_secret_file, setup_logging  # noqa: E402

POWER: LabPower | None = None


def host_uuid(host: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{host}.redfish.blackstart-lab"))


class LabDriver(fakedriver.FakeDriver):
    """sushy-tools' fake driver (systems, boot devices, NICs kept by sushy) with the power of the lab."""

    @property
    def driver(self):
        return "<blackstart lab/power>"

    # Systems/<host>: the Id a playbook names (redfish_command resource_id) is the lab host's name
    @property
    def systems(self):
        return [s["name"] for s in self._systems.values()]

    def _get(self, identity):
        return super()._get(self._by_name.get(identity, identity))

    def name(self, identity):
        return self._get(identity)["name"]

    def get_power_state(self, identity):
        system = self._get(identity)
        return "On" if POWER.is_on(system["name"]) else "Off"

    def set_power_state(self, identity, state):
        host = self._get(identity)["name"]
        on = POWER.is_on(host)
        LOG.info("%s: Reset %s (power is %s)", host, state, "On" if on else "Off")
        if state in ("On", "ForceOn"):
            if not on:
                POWER.request("on", host)
        elif state == "GracefulShutdown":
            if on:
                POWER.request("off", host)
        elif state == "ForceOff":
            if on:
                POWER.request("kill", host)
        elif state in ("GracefulRestart", "ForceRestart", "PowerCycle"):
            def cycle():
                POWER.request("off" if state == "GracefulRestart" else "kill", host)
                while POWER.is_on(host):
                    time.sleep(0.5)
                POWER.request("on", host)
            threading.Thread(target=cycle, daemon=True).start()
        else:
            raise error.NotSupportedError(f"Power state {state} is not supported")


def make_tls(state_dir: Path, address: str) -> tuple[str, str]:
    """A self-signed certificate for ADDRESS (also its own CA: give tls.crt as ca_path to validate it)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"blackstart lab redfish {address}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address)),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt, kf = state_dir / "tls.crt", state_dir / "tls.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(kf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return str(crt), str(kf)


def main(argv: list[str]) -> int:
    global POWER
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    setup_logging("redfish-bmc")
    cfg = read_secret_file(argv[1])
    POWER = LabPower(cfg.get("power_command"))
    state_dir = Path(cfg["state_dir"])
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    htpasswd = state_dir / "htpasswd"
    fd = os.open(htpasswd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{cfg['user']}:{bcrypt.hashpw(cfg['password'].encode(), bcrypt.gensalt(rounds=4)).decode()}\n")
    fakedriver.FakeDriver = LabDriver  # what sushy's app instantiates for SUSHY_EMULATOR_FAKE_DRIVER
    app = sushy_main.app
    app.configure(extra_config={
        "SUSHY_EMULATOR_FAKE_DRIVER": True,
        "SUSHY_EMULATOR_STATE_DIR": str(state_dir),
        "SUSHY_EMULATOR_AUTH_FILE": str(htpasswd),
        "SUSHY_EMULATOR_FAKE_SYSTEMS": [
            {"uuid": host_uuid(h), "name": h, "power_state": "Off", "nics": []} for h in cfg["hosts"]],
        "SUSHY_EMULATOR_ALLOWED_INSTANCES": list(cfg["hosts"]) + [host_uuid(h) for h in cfg["hosts"]],
    })
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    address, port = cfg.get("address", "127.0.0.1"), int(cfg.get("port", 18000))
    tls = make_tls(state_dir, address)
    LOG.info("listening on https://%s:%s/redfish/v1 (systems: %s; certificate %s)", address, port,
             ", ".join(cfg["hosts"]), tls[0])

    def reaper():
        while True:
            time.sleep(1)
            POWER.reap()
    threading.Thread(target=reaper, daemon=True).start()
    print("READY", flush=True)
    app.run(host=address, port=port, threaded=True, ssl_context=tls)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
