"""kube-apiserver stand-in: HTTPS :6443, objects in etcd, the API subset kubectl needs."""
import json
import logging
import signal
import threading
import time
import urllib.parse
import http.server

from . import admission, etcd, health, httpserver, labelsel, openapi, patch, resources, tables
from .meta import APIError, now_rfc3339
from .store import Store

LOG = logging.getLogger("apiserver")

ANONYMOUS_PATHS = ("/livez", "/readyz", "/healthz", "/version")
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
WATCH_POLL_SECONDS = 1.0


class Route:
    __slots__ = ("res", "namespace", "name", "sub")

    def __init__(self, res, namespace=None, name=None, sub=None):
        self.res, self.namespace, self.name, self.sub = res, namespace, name, sub


def parse_resource_path(parts):
    """parts after /api or /apis: returns Route or None."""
    if parts and parts[0] == "api":
        group, version, rest = "", parts[1] if len(parts) > 1 else "", parts[2:]
    elif parts and parts[0] == "apis" and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        res = resources.find(group, version, rest[2])
        if res is None or not res.namespaced:
            raise APIError(404, "the server could not find the requested resource")
        return Route(res, rest[1], rest[3] if len(rest) > 3 else None, rest[4] if len(rest) > 4 else None)
    res = resources.find(group, version, rest[0])
    if res is None:
        raise APIError(404, "the server could not find the requested resource")
    return Route(res, None, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None)


class API:
    """The operations, independent of HTTP."""

    def __init__(self, store, grace_default=30):
        self.store = store
        self.grace_default = grace_default

    # -- helpers ------------------------------------------------------------
    def _require_namespace(self, name):
        ns_res = resources.find("", "v1", "namespaces")
        try:
            ns = self.store.get(ns_res, None, name)
        except APIError as exc:
            if exc.code == 404:
                raise APIError(404, f'namespaces "{name}" not found',
                               details={"name": name, "kind": "namespaces"}) from exc
            raise
        if ns.get("status", {}).get("phase") == "Terminating":
            raise APIError(403, f"unable to create new content in namespace {name} because it is being terminated",
                           "Forbidden")

    @staticmethod
    def _predicate(query):
        label_sel = query.get("labelSelector", [""])[0]
        field_sel = query.get("fieldSelector", [""])[0]
        lp = labelsel.parse_labels(label_sel) if label_sel else None
        fp = labelsel.parse_fields(field_sel) if field_sel else None
        if not lp and not fp:
            return None
        return lambda o: (not lp or lp((o.get("metadata") or {}).get("labels"))) and (not fp or fp(o))

    # -- verbs --------------------------------------------------------------
    def list(self, route, query):
        try:
            pred = self._predicate(query)
        except labelsel.SelectorError as exc:
            raise APIError(400, str(exc)) from exc
        items, rev = self.store.list(route.res, route.namespace, pred)
        return items, rev

    def get(self, route):
        return self.store.get(route.res, route.namespace, route.name)

    def create(self, route, body, dry_run=False):
        obj = admission.on_create(route.res, body, route.namespace)
        if route.res.namespaced:
            self._require_namespace(obj["metadata"]["namespace"])
        if dry_run:
            return obj
        return self.store.create(route.res, obj)

    def _finish_update(self, route, old, new):
        new = admission.on_update(route.res, old, new, route.sub)
        # an object being deleted goes away once its last finalizer is removed
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers") \
                and route.res.kind != "Pod":
            self.store.delete(route.res, route.namespace, route.name, expected_rv=old["metadata"]["resourceVersion"])
            return new
        return self.store.replace(route.res, new, old["metadata"]["resourceVersion"])

    def update(self, route, body):
        old = self.get(route)
        want_rv = (body.get("metadata") or {}).get("resourceVersion")
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise APIError(409, f'Operation cannot be fulfilled on {route.res.name} "{route.name}": the object has '
                                "been modified; please apply your changes to the latest version and try again",
                           "Conflict")
        return self._finish_update(route, old, body)

    def patch(self, route, content_type, body):
        ptype = patch.PATCH_TYPES.get(content_type.split(";")[0].strip())
        if ptype is None:
            raise APIError(415, f"the body of the request was in an unknown format - accepted media types "
                                f"include: {', '.join(patch.PATCH_TYPES)}")
        for _ in range(5):
            old = self.get(route)
            try:
                new = patch.apply(ptype, old, body)
            except patch.PatchError as exc:
                raise APIError(422, str(exc)) from exc
            if not isinstance(new, dict):
                raise APIError(422, "patch result is not an object")
            new.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
            try:
                return self._finish_update(route, old, new)
            except APIError as exc:
                if exc.reason != "Conflict" or ptype == "json" and (body and any(
                        op.get("op") == "test" for op in body)):
                    raise
        raise APIError(409, "too many conflicts applying the patch", "Conflict")

    def delete(self, route, options):
        obj = self.get(route)
        pre = options.get("preconditions") or {}
        grace = options.get("gracePeriodSeconds")
        kind = route.res.kind
        md = obj["metadata"]
        graceful_pod = (kind == "Pod" and (obj.get("spec") or {}).get("nodeName")
                        and (obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                        and grace != 0)
        if graceful_pod or md.get("finalizers") or kind == "Namespace":
            if md.get("deletionTimestamp"):
                return obj

            def mark(cur):
                cur["metadata"]["deletionTimestamp"] = now_rfc3339()
                if kind == "Pod":
                    g = grace if grace is not None else (cur.get("spec") or {}).get(
                        "terminationGracePeriodSeconds", self.grace_default)
                    cur["metadata"]["deletionGracePeriodSeconds"] = g
                if kind == "Namespace":
                    cur.setdefault("status", {})["phase"] = "Terminating"
                return cur
            if pre.get("uid") and pre["uid"] != md.get("uid"):
                raise APIError(409, "Precondition failed: UID mismatch", "Conflict")
            return self.store.guaranteed_update(route.res, route.namespace, route.name, mark)
        return self.store.delete(route.res, route.namespace, route.name,
                                 expected_rv=pre.get("resourceVersion"), expected_uid=pre.get("uid"))

    def evict(self, route, body):
        """policy/v1 Eviction: no PodDisruptionBudgets exist here, so always allowed."""
        self.delete(resources_route(route, sub=None), (body or {}).get("deleteOptions") or {})
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def bind(self, route, body):
        target = (body or {}).get("target") or {}
        if target.get("kind", "Node") != "Node" or not target.get("name"):
            raise APIError(400, "binding target must be a Node")

        def set_node(pod):
            if (pod.get("spec") or {}).get("nodeName"):
                raise APIError(409, f'pod {route.name} is already assigned to node "{pod["spec"]["nodeName"]}"',
                               "Conflict")
            if pod["metadata"].get("deletionTimestamp"):
                raise APIError(409, f"pod {route.name} is being deleted, cannot be assigned to a host", "Conflict")
            pod["spec"]["nodeName"] = target["name"]
            conds = [c for c in pod.setdefault("status", {}).get("conditions", []) if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": now_rfc3339()})
            pod["status"]["conditions"] = conds
            return pod
        self.store.guaranteed_update(route.res, route.namespace, route.name, set_node)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    # -- scale subresource (autoscaling/v1 Scale) ---------------------------------------
    @staticmethod
    def _scale_doc(obj):
        md = obj["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md["name"], "namespace": md.get("namespace"), "uid": md.get("uid"),
                             "resourceVersion": md.get("resourceVersion"),
                             "creationTimestamp": md.get("creationTimestamp")},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": labelsel.selector_string((obj.get("spec") or {}).get("selector"))}}

    def get_scale(self, route):
        return self._scale_doc(self.get(route))

    def set_scale(self, route, new_scale):
        replicas = (new_scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise APIError(422, f"Scale.autoscaling \"{route.name}\" is invalid: spec.replicas: Invalid value")
        want_rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        main = Route(route.res, route.namespace, route.name)

        def mutate(obj):
            if want_rv and want_rv != obj["metadata"]["resourceVersion"]:
                raise APIError(409, f'Operation cannot be fulfilled on {route.res.name}.apps "{route.name}": '
                                    "the object has been modified", "Conflict")
            new = dict(obj, spec=dict(obj["spec"], replicas=replicas))
            return admission.on_update(route.res, obj, new)
        return self._scale_doc(self.store.guaranteed_update(main.res, main.namespace, main.name, mutate))

    def patch_scale(self, route, content_type, body):
        ptype = patch.PATCH_TYPES.get(content_type.split(";")[0].strip())
        if ptype is None:
            raise APIError(415, "unsupported patch type for scale")
        try:
            new = patch.apply(ptype, self.get_scale(route), body)
        except patch.PatchError as exc:
            raise APIError(422, str(exc)) from exc
        new.get("metadata", {}).pop("resourceVersion", None)   # a patch carries no precondition
        return self.set_scale(route, new)

    def ensure_default_namespaces(self):
        ns_res = resources.find("", "v1", "namespaces")
        for name in DEFAULT_NAMESPACES:
            try:
                self.store.create(ns_res, admission.on_create(ns_res, {"metadata": {"name": name}}, None))
                LOG.info("created namespace %s", name)
            except APIError as exc:
                if exc.code != 409:
                    raise


def resources_route(route, sub):
    return Route(route.res, route.namespace, route.name, sub)


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

