"""Defaulting and minimal validation on create/update (what the real
defaulters and admission plugins do for the kinds we serve)."""
import random

from .meta import APIError

GENERATION_KINDS = {"Deployment", "ReplicaSet", "Pod"}

DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


def random_suffix(n=5):
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(random.choice(alphabet) for _ in range(n))


def _default_pod_spec(spec, toleration_seconds=300):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    for c in spec.get("containers") or []:
        c.setdefault("imagePullPolicy", "Always" if str(c.get("image", "")).endswith(":latest") else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
    for v in spec.get("volumes") or []:
        if "emptyDir" in v and v["emptyDir"] is None:
            v["emptyDir"] = {}
    tolerations = spec.setdefault("tolerations", [])
    for tol in DEFAULT_TOLERATIONS:
        if not any(t.get("key") == tol["key"] and t.get("effect") == tol["effect"] for t in tolerations):
            tolerations.append(dict(tol, tolerationSeconds=toleration_seconds))


def _pod(obj):
    spec = obj.setdefault("spec", {})
    if not spec.get("containers"):
        raise APIError(422, f'Pod "{obj["metadata"]["name"]}" is invalid: spec.containers: Required value')
    _default_pod_spec(spec)
    obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def _workload(obj):
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    tmpl = spec.setdefault("template", {})
    _default_pod_spec(tmpl.setdefault("spec", {}))
    if not spec.get("selector"):
        raise APIError(422, f'{obj["kind"]}.apps "{obj["metadata"]["name"]}" is invalid: spec.selector: Required value')
    if obj["kind"] == "Deployment":
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        spec.setdefault("progressDeadlineSeconds", 600)
    obj["status"] = {}


def _pvc(obj):
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    if not spec.get("accessModes"):
        raise APIError(422, f'PersistentVolumeClaim "{obj["metadata"]["name"]}" is invalid: '
                            "spec.accessModes: Required value")
    obj["status"] = {"phase": "Pending"}


def _pv(obj):
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    obj.setdefault("status", {}).setdefault("phase", "Available" if not spec.get("claimRef") else "Bound")


def _sc(obj):
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def _ns(obj):
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    obj.setdefault("spec", {"finalizers": ["kubernetes"]})
    obj["status"] = {"phase": "Active"}


def _event(obj):
    obj.setdefault("count", 1)
    obj.setdefault("type", "Normal")


DEFAULTERS = {"Pod": _pod, "Deployment": _workload, "ReplicaSet": _workload, "PersistentVolumeClaim": _pvc,
              "PersistentVolume": _pv, "StorageClass": _sc, "Namespace": _ns, "Event": _event}


def on_create(res, obj, namespace):
    if obj.get("kind") not in (None, res.kind):
        raise APIError(400, f"the object kind {obj.get('kind')!r} does not match the resource {res.name!r}")
    obj["kind"] = res.kind
    obj["apiVersion"] = res.group_version
    md = obj.setdefault("metadata", {})
    if not md.get("name"):
        if md.get("generateName"):
            md["name"] = md["generateName"] + random_suffix()
        else:
            raise APIError(422, f"{res.kind} is invalid: metadata.name: Required value: name or generateName is required")
    if res.namespaced:
        if md.get("namespace") and namespace and md["namespace"] != namespace:
            raise APIError(400, "the namespace of the provided object does not match the namespace sent on the request")
        md["namespace"] = namespace or md.get("namespace") or "default"
    if res.kind in GENERATION_KINDS:
        md["generation"] = 1
    defaulter = DEFAULTERS.get(res.kind)
    if defaulter:
        defaulter(obj)
    return obj


def on_update(res, old, new, subresource=None):
    """Carry server-owned fields over; bump generation when spec changes."""
    new["kind"], new["apiVersion"] = res.kind, res.group_version
    md, omd = new.setdefault("metadata", {}), old["metadata"]
    for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name"):
        if key in omd:
            md[key] = omd[key]
        else:
            md.pop(key, None)
    has_status = "status" in res.subresources
    if subresource == "status":
        for key in list(new):
            if key not in ("status", "metadata", "kind", "apiVersion"):
                new.pop(key)
        for key, val in old.items():
            if key not in ("status", "metadata"):
                new[key] = val
        new["metadata"] = dict(omd, resourceVersion=md.get("resourceVersion", omd.get("resourceVersion")))
        return new
    if has_status:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if res.kind in GENERATION_KINDS:
        md["generation"] = omd.get("generation", 1) + (1 if new.get("spec") != old.get("spec") else 0)
    if res.kind == "Pod" and (old.get("spec") or {}).get("nodeName") and \
            (new.get("spec") or {}).get("nodeName") != old["spec"]["nodeName"]:
        raise APIError(422, f'Pod "{omd["name"]}" is invalid: spec: Forbidden: pod updates may not change nodeName')
    return new
