"""Kubelet side of the containerd socket protocol."""
import json
import socket


class RuntimeDown(Exception):
    pass


class RuntimeClient:
    def __init__(self, path, timeout=30.0):
        self.path, self.timeout = path, timeout

    def call(self, op, timeout=None, **kw):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout or self.timeout)
                s.connect(self.path)
                s.sendall(json.dumps(dict(kw, op=op)).encode() + b"\n")
                buf = b""
                while not buf.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
        except OSError as exc:
            raise RuntimeDown(f"container runtime is down: {self.path}: {exc}") from exc
        try:
            resp = json.loads(buf)
        except ValueError as exc:
            raise RuntimeDown(f"container runtime answered garbage: {buf[:100]!r}") from exc
        return resp

    def ping(self):
        return self.call("ping", timeout=3).get("ok", False)

    def containers(self):
        return {c["id"]: c for c in self.call("list").get("containers", [])}
