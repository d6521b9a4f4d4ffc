"""Read the client-certificate kubeconfig (JSON, or the plain YAML subset
kubeadm/kubectl write) without PyYAML."""
import base64
import json
import os
import tempfile


class KubeconfigError(Exception):
    pass


def _scalar(text):
    text = text.strip()
    if text[:1] in ("'", '"') and text[-1:] == text[:1]:
        return text[1:-1]
    if text in ("null", "~", ""):
        return None
    if text in ("true", "false"):
        return text == "true"
    return text


def parse_yaml_subset(text):
    """Block mappings, block sequences ("- key: v"), scalars; enough for kubeconfigs."""
    lines = []
    for raw in text.splitlines():
        stripped = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if stripped.strip() and stripped.strip() != "---":
            lines.append((len(stripped) - len(stripped.lstrip()), stripped.strip()))
    pos = 0

    def block(indent):
        if pos >= len(lines):
            return None
        if lines[pos][1].startswith("- "):
            return seq(lines[pos][0])
        return mapping(lines[pos][0])

    def mapping(indent, first=None):
        nonlocal pos
        out = {}
        while pos < len(lines) or first:
            if first is not None:
                content, first = first, None
            else:
                ind, content = lines[pos]
                if ind != indent or content.startswith("- "):
                    break
                pos += 1
            key, _, rest = content.partition(":")
            key = _scalar(key)
            if rest.strip():
                val = rest.strip()
                out[key] = [] if val == "[]" else ({} if val == "{}" else _scalar(val))
            elif pos < len(lines) and (lines[pos][0] > indent or
                                       (lines[pos][0] == indent and lines[pos][1].startswith("- "))):
                out[key] = block(lines[pos][0])
            else:
                out[key] = None
        return out

    def seq(indent):
        nonlocal pos
        out = []
        while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("- "):
            content = lines[pos][1][2:].strip()
            pos += 1
            if ":" in content and not content.startswith(("'", '"')):
                out.append(mapping(indent + 2, first=content))
            else:
                out.append(_scalar(content))
        return out

    return block(0)


def _named(items, name):
    for item in items or []:
        if item.get("name") == name:
            return item
    raise KubeconfigError(f"kubeconfig has no entry named {name!r}")


def _materialize(entry, file_key, data_key, base, tmpdir):
    if entry.get(file_key):
        path = entry[file_key]
        return path if os.path.isabs(path) else os.path.join(base, path)
    if entry.get(data_key):
        fd, path = tempfile.mkstemp(prefix="kubelab-", dir=tmpdir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64decode(entry[data_key]))
        return path
    return None


def load(path, tmpdir=None):
    """Returns dict(server, ca, cert, key) for the current context."""
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    try:
        doc = json.loads(text)
    except ValueError:
        doc = parse_yaml_subset(text)
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a mapping")
    ctx_name = doc.get("current-context") or (doc.get("contexts") or [{}])[0].get("name")
    ctx = _named(doc.get("contexts"), ctx_name)["context"]
    cluster = _named(doc.get("clusters"), ctx["cluster"])["cluster"]
    user = _named(doc.get("users"), ctx["user"])["user"]
    base = os.path.dirname(os.path.abspath(path))
    out = {"server": cluster.get("server"),
           "ca": _materialize(cluster, "certificate-authority", "certificate-authority-data", base, tmpdir),
           "cert": _materialize(user, "client-certificate", "client-certificate-data", base, tmpdir),
           "key": _materialize(user, "client-key", "client-key-data", base, tmpdir)}
    if not out["cert"] or not out["key"]:
        raise KubeconfigError(f"kubeconfig {path}: user {ctx['user']!r} has no client certificate")
    return out
