"""A minimal OpenAPI v3 surface.

kubectl (create/apply, validate=strict by default) asks /openapi/v3 whether
the PATCH operation of a kind accepts the `fieldValidation` query parameter;
when it does, kubectl skips client-side schema validation and lets the server
validate.  We publish exactly that (no schemas), so `kubectl apply/create -f`
works without --validate=false.  kubectl apply then falls back to its
built-in Go types for strategic merge patches.
"""
import hashlib
import json

from . import resources

VERSION = "v1.37.0"


def _gv_path(group, version):
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _doc(group, version):
    paths = {}
    for res in resources.RESOURCES:
        if (res.group, res.version) != (group, version):
            continue
        prefix = "/" + _gv_path(group, version)
        item = (f"{prefix}/namespaces/{{namespace}}/{res.name}/{{name}}" if res.namespaced
                else f"{prefix}/{res.name}/{{name}}")
        op = {
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": res.kind},
            "x-kubernetes-action": "patch",
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"},
                            "uniqueItems": True},
                           {"name": "fieldManager", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK"}},
        }
        paths[item] = {"patch": op}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION},
            "paths": paths, "components": {"schemas": {}}}


def _all_docs():
    docs = {}
    for res in resources.RESOURCES:
        docs.setdefault(_gv_path(res.group, res.version), _doc(res.group, res.version))
    return docs


DOCS = _all_docs()
HASHES = {k: hashlib.sha512(json.dumps(v, sort_keys=True).encode()).hexdigest().upper()[:128]
          for k, v in DOCS.items()}


def index():
    return {"paths": {k: {"serverRelativeURL": f"/openapi/v3/{k}?hash={HASHES[k]}"} for k in DOCS}}


def group_version(path):
    return DOCS.get(path)
