"""Server-side printing (meta.k8s.io/v1 Table), the columns of the real apiserver."""
from .meta import age, condition
from .labelsel import selector_string


def _col(name, typ="string", priority=0, fmt=""):
    return {"name": name, "type": typ, "format": fmt, "description": name, "priority": priority}


def _node_row(o):
    ready = condition(o, "Ready")
    status = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if not ready:
        status = "Unknown"
    if (o.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (o["metadata"].get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/"))
    st = o.get("status") or {}
    info = st.get("nodeInfo") or {}
    addr = {a.get("type"): a.get("address") for a in st.get("addresses") or []}
    return [o["metadata"]["name"], status, ",".join(roles) or "<none>", age(o["metadata"].get("creationTimestamp")),
            info.get("kubeletVersion", ""), addr.get("InternalIP", "<none>"), addr.get("ExternalIP", "<none>"),
            info.get("osImage", "<unknown>"), info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>")]


def pod_status_reason(o):
    st = o.get("status") or {}
    reason = st.get("reason") or st.get("phase") or "Pending"
    restarts, ready = 0, 0
    statuses = st.get("containerStatuses") or []
    for cs in statuses:
        restarts += cs.get("restartCount", 0)
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            term = state["terminated"]
            reason = term.get("reason") or (f"Signal:{term['signal']}" if term.get("signal")
                                            else f"ExitCode:{term.get('exitCode', 0)}")
        elif "running" in state and cs.get("ready"):
            ready += 1
    if reason == "Running" and ready < len(statuses):
        reason = "Running"
    if o["metadata"].get("deletionTimestamp"):
        reason = "Unknown" if st.get("reason") == "NodeLost" else "Terminating"
    return reason, restarts, ready


def _pod_row(o):
    reason, restarts, ready = pod_status_reason(o)
    total = len((o.get("spec") or {}).get("containers") or [])
    st = o.get("status") or {}
    return [o["metadata"]["name"], f"{ready}/{total}", reason, restarts,
            age(o["metadata"].get("creationTimestamp")), st.get("podIP") or "<none>",
            (o.get("spec") or {}).get("nodeName") or "<none>", "<none>", "<none>"]


def _modes(modes):
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in modes or [])


def _pvc_row(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    phase = st.get("phase", "Pending")
    if o["metadata"].get("deletionTimestamp"):
        phase = "Terminating"
    bound = phase == "Bound"
    return [o["metadata"]["name"], phase, spec.get("volumeName", ""),
            (st.get("capacity") or {}).get("storage", "") if bound else "",
            _modes(st.get("accessModes")) if bound else "", spec.get("storageClassName") or "",
            "<unset>", age(o["metadata"].get("creationTimestamp")), spec.get("volumeMode", "Filesystem")]


def _pv_row(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace')}/{ref.get('name')}" if ref.get("name") else ""
    return [o["metadata"]["name"], (spec.get("capacity") or {}).get("storage", ""),
            _modes(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""),
            st.get("phase", "Pending"), claim, spec.get("storageClassName", ""), "<unset>",
            st.get("reason", ""), age(o["metadata"].get("creationTimestamp")), spec.get("volumeMode", "Filesystem")]


def _event_row(o):
    inv = o.get("involvedObject") or {}
    last = o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
    src = o.get("source") or {}
    return [age(last), o.get("type", ""), o.get("reason", ""), f"{(inv.get('kind') or '').lower()}/{inv.get('name')}",
            o.get("message", ""), inv.get("fieldPath", ""),
            ", ".join(x for x in (src.get("component"), src.get("host")) if x),
            age(o.get("firstTimestamp") or last), o.get("count", 1), o["metadata"]["name"]]


def _ns_row(o):
    return [o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"),
            age(o["metadata"].get("creationTimestamp"))]


def _sc_row(o):
    name = o["metadata"]["name"]
    if (o["metadata"].get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true":
        name += " (default)"
    return [name, o.get("provisioner", ""), o.get("reclaimPolicy", "Delete"),
            o.get("volumeBindingMode", "Immediate"), str(bool(o.get("allowVolumeExpansion", False))).lower(),
            age(o["metadata"].get("creationTimestamp"))]


def _containers(o):
    cs = ((o.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _deploy_row(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(o)
    return [o["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0),
            age(o["metadata"].get("creationTimestamp")), names, images, selector_string(spec.get("selector"))]


def _rs_row(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    names, images = _containers(o)
    return [o["metadata"]["name"], spec.get("replicas", 1), st.get("replicas", 0), st.get("readyReplicas", 0),
            age(o["metadata"].get("creationTimestamp")), names, images, selector_string(spec.get("selector"))]


def _lease_row(o):
    return [o["metadata"]["name"], (o.get("spec") or {}).get("holderIdentity", ""),
            age(o["metadata"].get("creationTimestamp"))]


def _generic_row(o):
    return [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"))]


NAME = _col("Name", fmt="name")
AGE = _col("Age")
PRINTERS = {
    "nodes": ([NAME, _col("Status"), _col("Roles"), AGE, _col("Version"), _col("Internal-IP", priority=1),
               _col("External-IP", priority=1), _col("OS-Image", priority=1), _col("Kernel-Version", priority=1),
               _col("Container-Runtime", priority=1)], _node_row),
    "pods": ([NAME, _col("Ready"), _col("Status"), _col("Restarts", "integer"), AGE, _col("IP", priority=1),
              _col("Node", priority=1), _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)],
             _pod_row),
    "persistentvolumeclaims": ([NAME, _col("Status"), _col("Volume"), _col("Capacity"), _col("Access Modes"),
                                _col("StorageClass"), _col("VolumeAttributesClass"), AGE,
                                _col("VolumeMode", priority=1)], _pvc_row),
    "persistentvolumes": ([NAME, _col("Capacity"), _col("Access Modes"), _col("Reclaim Policy"), _col("Status"),
                           _col("Claim"), _col("StorageClass"), _col("VolumeAttributesClass"), _col("Reason"), AGE,
                           _col("VolumeMode", priority=1)], _pv_row),
    "events": ([_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message"),
                _col("Subobject", priority=1), _col("Source", priority=1), _col("First Seen", priority=1),
                _col("Count", "integer", 1), _col("Name", priority=1)], _event_row),
    "namespaces": ([NAME, _col("Status"), AGE], _ns_row),
    "storageclasses": ([NAME, _col("Provisioner"), _col("ReclaimPolicy"), _col("VolumeBindingMode"),
                        _col("AllowVolumeExpansion"), AGE], _sc_row),
    "deployments": ([NAME, _col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), AGE,
                     _col("Containers", priority=1), _col("Images", priority=1), _col("Selector", priority=1)],
                    _deploy_row),
    "replicasets": ([NAME, _col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"), AGE,
                     _col("Containers", priority=1), _col("Images", priority=1), _col("Selector", priority=1)],
                    _rs_row),
    "leases": ([NAME, _col("Holder"), AGE], _lease_row),
}


def to_table(res, items, resource_version):
    columns, row_fn = PRINTERS.get(res.name, ([NAME, AGE], _generic_row))
    rows = []
    for obj in items:
        md = obj.get("metadata", {})
        rows.append({"cells": row_fn(obj), "object": {
            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": str(resource_version)},
            "columnDefinitions": columns, "rows": rows}
