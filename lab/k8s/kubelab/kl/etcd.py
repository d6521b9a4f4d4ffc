"""Minimal etcd v3 client over the JSON gRPC-gateway (HTTPS + client certs).

Only urllib + ssl.  Keys and values are base64 in the wire format; this module
hands out bytes keys and decoded JSON-ready bytes values.
"""
import base64
import http.client
import json
import logging
import ssl

from .https import Pool

LOG = logging.getLogger("etcd")


class EtcdError(Exception):
    """etcd did not answer (no endpoint reachable, timeout, no quorum...)."""


def _b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def _unb64(text):
    return base64.b64decode(text) if text else b""


def prefix_end(prefix):
    """The range_end that selects every key starting with prefix."""
    raw = bytearray(prefix.encode() if isinstance(prefix, str) else prefix)
    for i in reversed(range(len(raw))):
        if raw[i] < 0xFF:
            raw[i] += 1
            return bytes(raw[: i + 1])
    return b"\0"


class KV:
    __slots__ = ("key", "value", "mod_revision", "create_revision", "version")

    def __init__(self, raw):
        self.key = _unb64(raw.get("key")).decode()
        self.value = _unb64(raw.get("value"))
        self.mod_revision = int(raw.get("mod_revision", 0))
        self.create_revision = int(raw.get("create_revision", 0))
        self.version = int(raw.get("version", 0))


class Client:
    def __init__(self, endpoints, ca, cert, key, timeout=2.0):
        if not endpoints:
            raise ValueError("no etcd endpoints configured")
        self.endpoints = list(endpoints)
        self.timeout = timeout
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False  # lab certs carry IP SANs; CA pinning is what matters
        ctx.load_cert_chain(cert, key)
        self._pool = Pool(ctx, timeout)
        self._preferred = 0

    def _post(self, path, body, timeout=None, endpoints=None):
        errors = []
        endpoints = endpoints or self.endpoints
        n = len(endpoints)
        for i in range(n):
            idx = (self._preferred + i) % n
            url = endpoints[idx].rstrip("/") + path
            try:
                status, raw = self._pool.request(endpoints[idx], "POST", path, json.dumps(body).encode(),
                                                 {"Content-Type": "application/json"}, timeout)
            except (OSError, http.client.HTTPException) as exc:  # refused, timeouts, TLS errors
                errors.append(f"{url}: {exc}")
                continue
            if status != 200:
                errors.append(f"{url}: HTTP {status} {raw.decode(errors='replace')[:300]}")
                continue
            try:
                data = json.loads(raw or b"{}")
            except ValueError as exc:
                errors.append(f"{url}: bad JSON: {exc}")
                continue
            if endpoints is self.endpoints:
                self._preferred = idx
            return data
        raise EtcdError("; ".join(errors))

    # -- KV -----------------------------------------------------------------
    def range(self, key, prefix=False, revision=0, serializable=False, keys_only=False, timeout=None):
        body = {"key": _b64(key)}
        if prefix:
            body["range_end"] = _b64(prefix_end(key))
        if revision:
            body["revision"] = str(revision)
        if serializable:
            body["serializable"] = True
        if keys_only:
            body["keys_only"] = True
        data = self._post("/v3/kv/range", body, timeout)
        header_rev = int(data.get("header", {}).get("revision", 0))
        return [KV(kv) for kv in data.get("kvs", [])], header_rev

    def get(self, key):
        kvs, rev = self.range(key)
        return (kvs[0] if kvs else None), rev

    def put(self, key, value, lease=None):
        body = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        data = self._post("/v3/kv/put", body)
        return int(data.get("header", {}).get("revision", 0))

    def delete(self, key, prefix=False):
        body = {"key": _b64(key)}
        if prefix:
            body["range_end"] = _b64(prefix_end(key))
        data = self._post("/v3/kv/deleterange", body)
        return int(data.get("deleted", 0))

    def txn(self, compare, success, failure=()):
        data = self._post("/v3/kv/txn", {"compare": list(compare), "success": list(success),
                                         "failure": list(failure)})
        return bool(data.get("succeeded")), int(data.get("header", {}).get("revision", 0))

    # -- optimistic concurrency helpers ---------------------------------------
    def create(self, key, value):
        """Put only if key does not exist. Returns revision or None when it exists."""
        ok, rev = self.txn(
            [{"key": _b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
            [{"request_put": {"key": _b64(key), "value": _b64(value)}}])
        return rev if ok else None

    def update(self, key, value, mod_revision):
        """Put only if key is still at mod_revision. Returns revision or None on conflict."""
        ok, rev = self.txn(
            [{"key": _b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(mod_revision)}],
            [{"request_put": {"key": _b64(key), "value": _b64(value)}}])
        return rev if ok else None

    def delete_if(self, key, mod_revision):
        ok, rev = self.txn(
            [{"key": _b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(mod_revision)}],
            [{"request_delete_range": {"key": _b64(key)}}])
        return rev if ok else None

    def compact(self, revision):
        """Drop history before revision (the apiserver does this every 5 minutes)."""
        return self._post("/v3/kv/compaction", {"revision": str(revision)})

    def status(self, endpoint, timeout=None):
        """Maintenance status of one member (does not need quorum)."""
        return self._post("/v3/maintenance/status", {}, timeout, endpoints=[endpoint])
