"""A small REST client for our apiserver (client-cert auth, endpoint failover)."""
import http.client
import json
import logging
import ssl
import urllib.parse

from . import kubeconfig, resources
from .https import Pool
from .meta import APIError, now_rfc3339

LOG = logging.getLogger("client")


class Unavailable(Exception):
    """No apiserver answered."""


KUBECONFIG_KEYS = {"kubelet": "node", "kube-proxy": "kube-proxy", "kube-controller-manager": "kube-controller-manager",
                   "kube-scheduler": "kube-scheduler"}


def kubeconfig_path(cfg):
    """`kubeconfigs.<component>` (node/kube-proxy/kube-controller-manager/kube-scheduler) if given, else `kubeconfig`."""
    key = KUBECONFIG_KEYS.get(cfg.get("component", ""))
    return (cfg.get("kubeconfigs") or {}).get(key) or cfg["kubeconfig"]


class Client:
    def __init__(self, cfg, timeout=10.0):
        kc = kubeconfig.load(kubeconfig_path(cfg))
        # the kubeconfig's server first (127.0.0.1 on masters, as the real control plane
        # talks to its local apiserver), then the others: the lab's stand-in for a VIP
        self.endpoints = [kc["server"]] if kc.get("server") else []
        self.endpoints += [e for e in cfg.get("apiserver_endpoints") or [] if e not in self.endpoints]
        ctx = ssl.create_default_context(cafile=kc["ca"] or cfg.get("ca_cert"))
        ctx.check_hostname = False  # pinned to the lab CA; endpoints are IPs
        ctx.load_cert_chain(kc["cert"], kc["key"])
        self._pool = Pool(ctx, timeout)
        self.timeout = timeout
        self._preferred = 0

    # -- transport ------------------------------------------------------------
    def request(self, method, path, body=None, content_type="application/json", timeout=None):
        data = json.dumps(body).encode() if body is not None else None
        errors = []
        n = len(self.endpoints)
        for i in range(n):
            idx = (self._preferred + i) % n
            try:
                status, raw = self._pool.request(self.endpoints[idx], method, path, data,
                                                 {"Content-Type": content_type, "Accept": "application/json"},
                                                 timeout)
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{self.endpoints[idx]}: {exc}")
                continue
            if status < 300:
                self._preferred = idx
                return json.loads(raw) if raw else None
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = {"message": raw.decode(errors="replace")[:300]}
            if status >= 500 and i < n - 1:   # that apiserver cannot reach etcd: try another
                errors.append(f"{self.endpoints[idx]}: {status} {doc.get('message')}")
                continue
            self._preferred = idx
            raise APIError(status, doc.get("message", ""), doc.get("reason"))
        raise Unavailable("; ".join(errors))

    # -- typed helpers ------------------------------------------------------------
    @staticmethod
    def path(kind_or_res, namespace=None, name=None, sub=None, query=None):
        res = kind_or_res if isinstance(kind_or_res, resources.Resource) else next(
            r for r in resources.RESOURCES if r.kind == kind_or_res)
        base = f"/api/{res.version}" if not res.group else f"/apis/{res.group}/{res.version}"
        if res.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{res.name}"
        if name:
            base += f"/{name}"
        if sub:
            base += f"/{sub}"
        if query:
            base += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v})
        return base

    def list(self, kind, namespace=None, label_selector=None, field_selector=None):
        doc = self.request("GET", self.path(kind, namespace, query={"labelSelector": label_selector,
                                                                    "fieldSelector": field_selector}))
        return doc.get("items", [])

    def get(self, kind, namespace, name):
        return self.request("GET", self.path(kind, namespace, name))

    def get_or_none(self, kind, namespace, name):
        try:
            return self.get(kind, namespace, name)
        except APIError as exc:
            if exc.code == 404:
                return None
            raise

    def create(self, kind, obj, namespace=None):
        return self.request("POST", self.path(kind, namespace or obj.get("metadata", {}).get("namespace")), obj)

    def replace(self, kind, obj, sub=None):
        md = obj["metadata"]
        return self.request("PUT", self.path(kind, md.get("namespace"), md["name"], sub), obj)

    def patch(self, kind, namespace, name, body, sub=None, patch_type="merge"):
        ctype = {"merge": "application/merge-patch+json",
                 "strategic": "application/strategic-merge-patch+json"}[patch_type]
        return self.request("PATCH", self.path(kind, namespace, name, sub), body, content_type=ctype)

    def delete(self, kind, namespace, name, grace=None, uid=None):
        body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace is not None:
            body["gracePeriodSeconds"] = grace
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            return self.request("DELETE", self.path(kind, namespace, name), body)
        except APIError as exc:
            if exc.code != 404:
                raise
            return None

    def update_status(self, kind, obj, mutate, attempts=5):
        """GET-mutate-PUT on /status with conflict retries."""
        md = obj["metadata"]
        for _ in range(attempts):
            cur = self.get(kind, md.get("namespace"), md["name"])
            new = mutate(cur)
            if new is None:
                return cur
            try:
                return self.replace(kind, new, sub="status")
            except APIError as exc:
                if exc.code != 409:
                    raise
        raise APIError(409, f"too many conflicts updating {kind} {md['name']}", "Conflict")


class EventRecorder:
    """core/v1 Events with count aggregation (same reason+message+object -> count++)."""

    def __init__(self, client, component, host=None):
        self.client = client
        self.source = {"component": component, **({"host": host} if host else {})}
        self._seen = {}

    def emit(self, obj, etype, reason, message):
        md = obj["metadata"]
        ns = md.get("namespace") or "default"
        key = (md.get("uid"), reason, message)
        now = now_rfc3339()
        name = self._seen.get(key)
        try:
            if name:
                ev = self.client.get_or_none("Event", ns, name)
                if ev is not None:
                    ev["count"] = ev.get("count", 1) + 1
                    ev["lastTimestamp"] = now
                    self.client.replace("Event", ev)
                    return
            ev = {"apiVersion": "v1", "kind": "Event",
                  "metadata": {"generateName": md["name"] + ".", "namespace": ns},
                  "involvedObject": {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"),
                                     "name": md["name"], "namespace": md.get("namespace"), "uid": md.get("uid"),
                                     "resourceVersion": md.get("resourceVersion")},
                  "reason": reason, "message": message, "type": etype, "source": self.source,
                  "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                  "reportingComponent": self.source["component"], "reportingInstance": self.source.get("host", "")}
            created = self.client.create("Event", ev, ns)
            self._seen[key] = created["metadata"]["name"]
        except (APIError, Unavailable) as exc:
            LOG.warning("could not record event %s %s on %s: %s", reason, message, md.get("name"), exc)
