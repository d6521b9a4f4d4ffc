"""Object storage in etcd under /registry/<resource>/[<namespace>/]<name>.

Values are the object JSON without metadata.resourceVersion; resourceVersion
is etcd's mod_revision of the key and a list's resourceVersion is the header
revision, as in the real apiserver.
"""
import copy
import json
import uuid

from . import meta


class Store:
    def __init__(self, client, prefix="/registry"):
        self.etcd = client
        self.prefix = prefix.rstrip("/")

    # -- keys ---------------------------------------------------------------
    def key(self, res, namespace, name):
        base = f"{self.prefix}/{res.group + '/' if res.group else ''}{res.name}"
        return f"{base}/{namespace}/{name}" if res.namespaced else f"{base}/{name}"

    def collection_key(self, res, namespace=None):
        base = f"{self.prefix}/{res.group + '/' if res.group else ''}{res.name}/"
        return f"{base}{namespace}/" if (res.namespaced and namespace) else base

    @staticmethod
    def _decode(kv):
        obj = json.loads(kv.value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
        return obj

    @staticmethod
    def _encode(obj):
        obj = copy.deepcopy(obj)
        obj.get("metadata", {}).pop("resourceVersion", None)
        return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()

    # -- reads --------------------------------------------------------------
    def get_kv(self, res, namespace, name):
        kv, _ = self.etcd.get(self.key(res, namespace, name))
        return kv

    def get(self, res, namespace, name):
        kv = self.get_kv(res, namespace, name)
        if kv is None:
            raise meta.not_found(res.name, name, res.group)
        return self._decode(kv)

    def list(self, res, namespace=None, predicate=None, revision=0):
        kvs, rev = self.etcd.range(self.collection_key(res, namespace), prefix=True, revision=revision)
        items = [self._decode(kv) for kv in kvs]
        if predicate:
            items = [o for o in items if predicate(o)]
        return items, rev

    def snapshot(self, res, namespace=None, revision=0):
        """{key: (mod_revision, create_revision, obj)} for watch diffs."""
        kvs, rev = self.etcd.range(self.collection_key(res, namespace), prefix=True, revision=revision)
        return {kv.key: (kv.mod_revision, kv.create_revision, self._decode(kv)) for kv in kvs}, rev

    # -- writes -------------------------------------------------------------
    def create(self, res, obj):
        md = obj.setdefault("metadata", {})
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = meta.now_rfc3339()
        md.pop("resourceVersion", None)
        md.pop("deletionTimestamp", None)
        if res.namespaced:
            md.setdefault("namespace", "default")
        else:
            md.pop("namespace", None)
        key = self.key(res, md.get("namespace"), md["name"])
        rev = self.etcd.create(key, self._encode(obj))
        if rev is None:
            raise meta.already_exists(res.name, md["name"], res.group)
        md["resourceVersion"] = str(rev)
        return obj

    def replace(self, res, obj, expected_rv):
        """Compare-and-swap on resourceVersion; raises Conflict."""
        md = obj["metadata"]
        key = self.key(res, md.get("namespace"), md["name"])
        rev = self.etcd.update(key, self._encode(obj), int(expected_rv))
        if rev is None:
            if self.etcd.get(key)[0] is None:
                raise meta.not_found(res.name, md["name"], res.group)
            raise meta.conflict(res.name, md["name"], res.group)
        md["resourceVersion"] = str(rev)
        return obj

    def guaranteed_update(self, res, namespace, name, mutate, attempts=8):
        """Read-mutate-CAS loop. mutate(obj) returns the new object (or None: no change)."""
        for _ in range(attempts):
            current = self.get(res, namespace, name)
            rv = current["metadata"]["resourceVersion"]
            updated = mutate(copy.deepcopy(current))
            if updated is None:
                return current
            try:
                return self.replace(res, updated, rv)
            except meta.APIError as exc:
                if exc.reason != "Conflict":
                    raise
        raise meta.conflict(res.name, name, res.group)

    def delete(self, res, namespace, name, expected_rv=None, expected_uid=None):
        key = self.key(res, namespace, name)
        kv, _ = self.etcd.get(key)
        if kv is None:
            raise meta.not_found(res.name, name, res.group)
        obj = self._decode(kv)
        if expected_uid and obj["metadata"].get("uid") != expected_uid:
            raise meta.APIError(409, f"Precondition failed: UID in precondition: {expected_uid}, "
                                     f"UID in object meta: {obj['metadata'].get('uid')}", "Conflict")
        if expected_rv and str(expected_rv) != str(kv.mod_revision):
            raise meta.conflict(res.name, name, res.group)
        if self.etcd.delete_if(key, kv.mod_revision) is None:
            raise meta.conflict(res.name, name, res.group)
        return obj

