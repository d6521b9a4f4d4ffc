"""The API operations (get/list/create/update/patch/delete, eviction, binding,
scale) on top of the etcd store, independent of HTTP."""
import logging

from . import admission, labelsel, patch, resources
from .meta import APIError, now_rfc3339

LOG = logging.getLogger("api")

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


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
