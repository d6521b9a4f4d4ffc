"""kube-apiserver stand-in: HTTPS :6443, objects in etcd, the API subset kubectl needs."""
import json
import logging
import signal
import threading
import time
import urllib.parse
import http.server

from . import etcd, health, httpserver, openapi, resources, tables
from .api import API, parse_resource_path
from .meta import APIError
from .store import Store

LOG = logging.getLogger("apiserver")

ANONYMOUS_PATHS = ("/livez", "/readyz", "/healthz", "/version")
WATCH_POLL_SECONDS = 1.0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kubelab-apiserver"
    timeout = 120     # idle keep-alive connections (e.g. of a powered-off node) are dropped
    api = None        # set by make_handler
    checker = None
    address = ""

    def log_message(self, fmt, *args):  # access log at debug level only
        LOG.debug("%s %s", self.address_string(), fmt % args)

    # -- responses ------------------------------------------------------------
    def _send(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_error(self, exc):
        self._send(exc.code, exc.status())

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise APIError(400, f"the request body is not valid JSON: {exc}") from exc

    # -- entry points -------------------------------------------------------------
    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        user = httpserver.peer_identity(self.connection)
        try:
            if user is None and not path.startswith(ANONYMOUS_PATHS):
                raise APIError(401, "Unauthorized")
            self._route(method, path, query)
        except APIError as exc:
            if exc.code >= 500:
                LOG.warning("%s %s: %s", method, self.path, exc.message)
            self._send_error(exc)
        except etcd.EtcdError as exc:
            LOG.warning("%s %s: etcd: %s", method, self.path, exc)
            self._send_error(APIError(500, f"etcdserver: request timed out ({exc})"[:500]))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, method, path, query):
        parts = [p for p in path.split("/") if p]
        head = parts[0] if parts else ""
        if head in ("livez", "readyz", "healthz"):
            return self._health(head, parts, query)
        if path == "/version":
            return self._send(200, {"major": "1", "minor": "37", "gitVersion": openapi.VERSION + "-kubelab",
                                    "gitCommit": "0000000000000000000000000000000000000000",
                                    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                                    "goVersion": "python", "compiler": "cpython", "platform": "linux/amd64"})
        if head == "openapi":
            return self._openapi(parts)
        discovery = self._discovery(parts)
        if discovery is not None:
            return self._send(200, discovery)
        route = parse_resource_path(parts)
        if route is None:
            raise APIError(404, "the server could not find the requested resource")
        return self._resource(method, route, query)

    def _health(self, kind, parts, query):
        if kind == "healthz":
            kind = "livez" if len(parts) == 1 else kind
        if len(parts) > 1:
            code, text = self.checker.single(kind, parts[1])
            return self._send(code, text, "text/plain; charset=utf-8")
        exclude = set(query.get("exclude", []))
        verbose = "verbose" in query
        results = self.checker.run(kind, exclude)
        code, text = self.checker.render(kind, results, verbose)
        return self._send(code, text, "text/plain; charset=utf-8")

    def _openapi(self, parts):
        if parts[:2] == ["openapi", "v3"]:
            if len(parts) == 2:
                return self._send(200, openapi.index())
            doc = openapi.group_version("/".join(parts[2:]))
            if doc:
                return self._send(200, doc)
        raise APIError(404, "the server could not find the requested resource")

    def _discovery(self, parts):
        if parts == ["api"]:
            return resources.api_versions_doc(self.address)
        if parts == ["apis"]:
            return resources.api_group_list_doc()
        if parts == ["api", "v1"]:
            return resources.resource_list_doc("", "v1")
        if len(parts) == 2 and parts[0] == "apis":
            doc = resources.api_group_doc(parts[1])
            if doc is None:
                raise APIError(404, "the server could not find the requested resource")
            return doc
        if len(parts) == 3 and parts[0] == "apis":
            doc = resources.resource_list_doc(parts[1], parts[2])
            if doc is None:
                raise APIError(404, "the server could not find the requested resource")
            return doc
        return None

    def _wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def _resource(self, method, route, query):
        if route.sub and route.sub not in route.res.subresources:
            raise APIError(404, "the server could not find the requested resource")
        target = "collection" if route.name is None else (route.sub or "item")
        if target == "status":
            target = "item"   # GET/PUT/PATCH on /status: same verbs, admission keeps the rest
        handler = self.VERBS.get((method, target))
        if handler is None:
            raise APIError(405, "the server does not allow this method on the requested resource")
        return handler(self, route, query)

    def _object_body(self):
        body = self._body()
        if not isinstance(body, dict):
            raise APIError(400, "request body must be an object")
        return body

    def _get_collection(self, route, query):
        if query.get("watch", [""])[0] in ("1", "true"):
            return self._watch(route, query)
        res = route.res
        items, rev = self.api.list(route, query)
        if self._wants_table():
            return self._send(200, tables.to_table(res, items, rev))
        return self._send(200, {"kind": res.list_kind, "apiVersion": res.group_version,
                                "metadata": {"resourceVersion": str(rev)}, "items": items})

    def _get_item(self, route, _query):
        obj = self.api.get(route)
        if self._wants_table():
            return self._send(200, tables.to_table(route.res, [obj], obj["metadata"]["resourceVersion"]))
        return self._send(200, obj)

    def _create(self, route, query):
        return self._send(201, self.api.create(route, self._object_body(), dry_run=bool(query.get("dryRun"))))

    def _evict(self, route, _query):
        return self._send(201, self.api.evict(route, self._body()))

    def _bind(self, route, _query):
        return self._send(201, self.api.bind(route, self._body()))

    def _update(self, route, _query):
        return self._send(200, self.api.update(route, self._object_body()))

    def _patch(self, route, _query):
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/apply-patch"):
            raise APIError(415, "server-side apply is not supported by this lab apiserver; use client-side kubectl apply")
        return self._send(200, self.api.patch(route, ctype, self._body()))

    def _delete(self, route, query):
        options = dict(self._body() or {})
        if "gracePeriodSeconds" in query:
            options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"][0])
        return self._send(200, self.api.delete(route, options))

    def _get_scale(self, route, _query):
        return self._send(200, self.api.get_scale(route))

    def _put_scale(self, route, _query):
        return self._send(200, self.api.set_scale(route, self._object_body()))

    def _patch_scale(self, route, _query):
        return self._send(200, self.api.patch_scale(route, self.headers.get("Content-Type", ""), self._body()))

    VERBS = {
        ("GET", "collection"): _get_collection,
        ("GET", "item"): _get_item,
        ("POST", "collection"): _create,
        ("POST", "eviction"): _evict,
        ("POST", "binding"): _bind,
        ("PUT", "item"): _update,
        ("PATCH", "item"): _patch,
        ("DELETE", "item"): _delete,
        ("GET", "scale"): _get_scale,
        ("PUT", "scale"): _put_scale,
        ("PATCH", "scale"): _patch_scale,
    }

    # -- watch (polling etcd; see README) ---------------------------------------------
    def _chunk(self, event):
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, route, query):
        store, res = self.api.store, route.res
        pred = self.api._predicate(query) or (lambda o: True)
        timeout = float(query.get("timeoutSeconds", ["1800"])[0] or 1800)
        rv = query.get("resourceVersion", [""])[0]
        initial = query.get("sendInitialEvents", [""])[0] == "true"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        current, rev = store.snapshot(res, route.namespace)
        if rv in ("", "0") or initial:
            previous = {}
        else:
            try:
                previous, _ = store.snapshot(res, route.namespace, revision=int(rv))
            except (etcd.EtcdError, ValueError) as exc:
                self._chunk({"type": "ERROR", "object": APIError(
                    410, f"too old resource version: {rv} ({exc})"[:300], "Expired").status()})
                self.wfile.write(b"0\r\n\r\n")
                return
        deadline = time.monotonic() + timeout
        first = True
        while True:
            for event in diff_events(previous, current, pred):
                self._chunk(event)
            if first and initial:
                self._chunk({"type": "BOOKMARK", "object": {
                    "kind": res.kind, "apiVersion": res.group_version, "metadata": {
                        "resourceVersion": str(rev), "annotations": {"k8s.io/initial-events-end": "true"}}}})
            first = False
            if time.monotonic() >= deadline:
                break
            time.sleep(WATCH_POLL_SECONDS)
            previous = current
            try:
                current, rev = store.snapshot(res, route.namespace)
            except etcd.EtcdError:
                current = previous
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def diff_events(previous, current, pred):
    events = []
    for key, (mod, created, obj) in current.items():
        old = previous.get(key)
        if old is None:
            if pred(obj):
                events.append((mod, {"type": "ADDED", "object": obj}))
        elif old[0] != mod:
            was, now = pred(old[2]), pred(obj)
            if was and now:
                events.append((mod, {"type": "MODIFIED", "object": obj}))
            elif now:
                events.append((mod, {"type": "ADDED", "object": obj}))
            elif was:
                events.append((mod, {"type": "DELETED", "object": obj}))
    for key, (mod, created, obj) in previous.items():
        if key not in current and pred(obj):
            events.append((mod, {"type": "DELETED", "object": obj}))
    return [e for _, e in sorted(events, key=lambda x: x[0])]


def compactor(client, interval):
    """Like --etcd-compaction-interval: every interval, compact etcd to the revision
    seen one interval earlier (without it etcd 3.4 keeps every heartbeat forever and
    eventually raises NOSPACE). Several apiservers doing it is harmless."""
    previous = None
    while True:
        time.sleep(interval)
        try:
            _, rev = client.range("compact_rev_key", serializable=True)
            if previous:
                client.compact(previous)
                LOG.info("compacted etcd history up to revision %d", previous)
            previous = rev
        except etcd.EtcdError as exc:
            if "compacted" not in str(exc):
                LOG.warning("etcd compaction: %s", exc)
            previous = None


def run(cfg):
    client = etcd.Client(cfg["etcd_endpoints"], cfg["etcd_ca"], cfg["etcd_cert"], cfg["etcd_key"],
                         timeout=float(cfg["etcd_timeout_seconds"]))
    api = API(Store(client, cfg["etcd_prefix"]))
    checker = health.Checker(client, float(cfg["etcd_timeout_seconds"]), time.time())
    address = f"{cfg.get('node_ip') or '127.0.0.1'}:{cfg['secure_port']}"
    handler = type("BoundHandler", (Handler,), {"api": api, "checker": checker, "address": address})
    server = httpserver.TLSServer((cfg["bind_address"], int(cfg["secure_port"])), handler,
                                  cfg["apiserver_cert"], cfg["apiserver_key"], cfg["ca_cert"])

    def bootstrap():
        delay = 1.0
        while True:
            try:
                api.ensure_default_namespaces()
                return
            except (etcd.EtcdError, APIError) as exc:
                LOG.warning("bootstrap: cannot create default namespaces yet: %s", exc)
                time.sleep(delay)
                delay = min(delay * 2, 10)
    threading.Thread(target=bootstrap, daemon=True, name="bootstrap").start()
    threading.Thread(target=compactor, args=(client, float(cfg.get("etcd_compaction_interval_seconds", 300))),
                     daemon=True, name="compactor").start()

    def stop(signum, _frame):
        LOG.info("received signal %d, shutting down", signum)
        checker.shutting_down = True
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    LOG.info("serving on https://%s:%s (etcd %s)", cfg["bind_address"], cfg["secure_port"],
             ",".join(cfg["etcd_endpoints"]))
    server.serve_forever(poll_interval=0.5)
    server.server_close()
    LOG.info("stopped")
    return 0

