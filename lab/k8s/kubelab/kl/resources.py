"""The API resources served, and their discovery documents."""
from dataclasses import dataclass

ALL_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    name: str          # plural
    kind: str
    namespaced: bool
    short_names: tuple = ()
    subresources: tuple = ()  # ("status", "eviction", ...)
    categories: tuple = ()
    singular: str = ""

    @property
    def group_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self):
        return self.kind + "List"


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",), ("status",)),
    Resource("", "v1", "nodes", "Node", False, ("no",), ("status",)),
    Resource("", "v1", "pods", "Pod", True, ("po",), ("status", "eviction", "binding"), ("all",)),
    Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), ("status",)),
    Resource("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), ("status",)),
    Resource("", "v1", "events", "Event", True, ("ev",)),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("status", "scale"), ("all",)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), ("status", "scale"), ("all",)),
    Resource("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",)),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
]

SUBRESOURCE_KINDS = {
    "eviction": ("policy", "v1", "Eviction", ["create"]),
    "binding": ("", "v1", "Binding", ["create"]),
    "status": (None, None, None, ["get", "patch", "update"]),
    "scale": ("autoscaling", "v1", "Scale", ["get", "patch", "update"]),
}

# groups that exist only for subresource kinds (policy/v1 Eviction)
EXTRA_GROUP_VERSIONS = {"policy": "v1", "autoscaling": "v1"}

BY_PATH = {(r.group, r.version, r.name): r for r in RESOURCES}
BY_KIND = {(r.group, r.kind): r for r in RESOURCES}


def find(group, version, name):
    return BY_PATH.get((group, version, name))


def by_api_version_kind(api_version, kind):
    group = api_version.split("/")[0] if "/" in api_version else ""
    return BY_KIND.get((group, kind))


def _api_resource(res):
    out = [{
        "name": res.name,
        "singularName": res.singular or res.kind.lower(),
        "namespaced": res.namespaced,
        "kind": res.kind,
        "verbs": ALL_VERBS + (["deletecollection"] if res.name != "nodes" else []),
        **({"shortNames": list(res.short_names)} if res.short_names else {}),
        **({"categories": list(res.categories)} if res.categories else {}),
        "storageVersionHash": "",
    }]
    for sub in res.subresources:
        group, version, kind, verbs = SUBRESOURCE_KINDS[sub]
        entry = {"name": f"{res.name}/{sub}", "singularName": "", "namespaced": res.namespaced,
                 "kind": kind or res.kind, "verbs": verbs}
        if group is not None:
            entry["group"] = group
            entry["version"] = version
        out.append(entry)
    return out


def group_versions():
    gv = {}
    for res in RESOURCES:
        gv.setdefault(res.group, set()).add(res.version)
    for group, version in EXTRA_GROUP_VERSIONS.items():
        gv.setdefault(group, set()).add(version)
    return gv


def api_versions_doc(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def api_group_list_doc():
    groups = []
    for group, versions in sorted(group_versions().items()):
        if not group:
            continue
        vlist = [{"groupVersion": f"{group}/{v}", "version": v} for v in sorted(versions)]
        groups.append({"name": group, "versions": vlist, "preferredVersion": vlist[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group_doc(group):
    versions = group_versions().get(group)
    if not versions:
        return None
    vlist = [{"groupVersion": f"{group}/{v}", "version": v} for v in sorted(versions)]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": vlist,
            "preferredVersion": vlist[0]}


def resource_list_doc(group, version):
    if version not in group_versions().get(group, set()):
        return None
    items = []
    for res in RESOURCES:
        if res.group == group and res.version == version:
            items.extend(_api_resource(res))
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}
