"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a
strategic-merge patch that knows the merge keys of the types we serve."""
import copy

# list field name -> merge key (the patchMergeKey of the Go types we serve)
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "volumes": "name", "volumeMounts": "name",
    "env": "name", "ports": "containerPort", "conditions": "type", "taints": "key",
    "tolerations": "key", "ownerReferences": "uid", "imagePullSecrets": "name",
    "addresses": "type", "finalizers": None,
}


class PatchError(ValueError):
    pass


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, val in patch.items():
        if val is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), val)
    return out


def _merge_list(field, current, patch):
    key = MERGE_KEYS.get(field)
    if field == "finalizers" or (key is None and all(not isinstance(p, dict) for p in patch)):
        if field in MERGE_KEYS:  # primitive lists with merge strategy: union
            out = list(current or [])
            out.extend(p for p in patch if p not in out)
            return out
        return copy.deepcopy(patch)
    if not key:
        return [p for p in copy.deepcopy(patch) if not (isinstance(p, dict) and "$patch" in p)]
    out = copy.deepcopy(current or [])
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"list {field}: expected objects with merge key {key}")
        directive = item.get("$patch")
        if directive == "replace":
            return [strip_directives({k: v for k, v in i.items()}) for i in patch if i.get("$patch") != "replace"]
        idx = next((i for i, c in enumerate(out) if isinstance(c, dict) and c.get(key) == item.get(key)), None)
        if directive == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strip_directives(item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


def strip_directives(obj):
    if isinstance(obj, dict):
        return {k: strip_directives(v) for k, v in obj.items()
                if not k.startswith("$setElementOrder/") and not k.startswith("$deleteFromPrimitiveList/")
                and k not in ("$patch", "$retainKeys") and v is not None}
    if isinstance(obj, list):
        return [strip_directives(v) for v in obj]
    return obj


def strategic_merge(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return strip_directives(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, val in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field, []) if v not in val]
        elif key.startswith("$") :
            continue
        elif val is None:
            out.pop(key, None)
        elif isinstance(val, list):
            out[key] = _merge_list(key, out.get(key), val)
        elif isinstance(val, dict):
            out[key] = strategic_merge(out.get(key), val)
        else:
            out[key] = val
    if retain is not None:
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    return cur


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            parts = _pointer(op["path"])
            parent = _walk(doc, parts[:-1])
            last = parts[-1]
            kind = op["op"]
            if kind == "test":
                if _walk(doc, parts) != op.get("value"):
                    raise PatchError(f"test failed at {op['path']}")
            elif kind in ("add", "replace"):
                if isinstance(parent, list):
                    idx = len(parent) if last == "-" else int(last)
                    if kind == "add":
                        parent.insert(idx, copy.deepcopy(op["value"]))
                    else:
                        parent[idx] = copy.deepcopy(op["value"])
                else:
                    if kind == "replace" and last not in parent:
                        raise PatchError(f"replace: missing path {op['path']}")
                    parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                if isinstance(parent, list):
                    parent.pop(int(last))
                else:
                    del parent[last]
            elif kind in ("move", "copy"):
                src = _pointer(op["from"])
                val = copy.deepcopy(_walk(doc, src))
                if kind == "move":
                    sp = _walk(doc, src[:-1])
                    if isinstance(sp, list):
                        sp.pop(int(src[-1]))
                    else:
                        del sp[src[-1]]
                json_patch_into = [{"op": "add", "path": op["path"], "value": val}]
                doc = json_patch(doc, json_patch_into)
            else:
                raise PatchError(f"unknown op {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            if isinstance(exc, PatchError):
                raise
            raise PatchError(f"json patch {op}: {exc}") from exc
    return doc


PATCH_TYPES = {
    "application/strategic-merge-patch+json": "strategic",
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
}


def apply(patch_type, current, body):
    if patch_type == "strategic":
        return strategic_merge(current, body)
    if patch_type == "merge":
        return merge_patch(current, body)
    if patch_type == "json":
        return json_patch(current, body)
    raise PatchError(f"unsupported patch type {patch_type}")
