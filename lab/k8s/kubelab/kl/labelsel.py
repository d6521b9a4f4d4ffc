"""Label and field selectors (the subset kubectl and our controllers send)."""
import re


class SelectorError(ValueError):
    pass


def _dig(obj, dotted):
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_top(expr):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur:
        parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_labels(expr):
    """Return a predicate over a labels dict."""
    reqs = []
    for term in _split_top(expr or ""):
        m = _SET_RE.match(term)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                reqs.append(lambda l, k=key, v=vals: l.get(k) in v)
            else:
                reqs.append(lambda l, k=key, v=vals: l.get(k) not in v)
        elif "!=" in term:
            key, val = (s.strip() for s in term.split("!=", 1))
            reqs.append(lambda l, k=key, v=val: l.get(k) != v)
        elif "=" in term:
            key, val = (s.strip() for s in term.replace("==", "=").split("=", 1))
            reqs.append(lambda l, k=key, v=val: l.get(k) == v)
        elif term.startswith("!"):
            reqs.append(lambda l, k=term[1:].strip(): k not in l)
        elif re.match(r"^[\w./-]+$", term):
            reqs.append(lambda l, k=term: k in l)
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
    return lambda labels: all(r(labels or {}) for r in reqs)


def parse_fields(expr):
    """Return a predicate over a whole object (metadata.name, spec.nodeName, ...)."""
    reqs = []
    for term in _split_top(expr or ""):
        if "!=" in term:
            path, val = (s.strip() for s in term.split("!=", 1))
            reqs.append(lambda o, p=path, v=val: str(_dig(o, p) or "") != v)
        elif "=" in term:
            path, val = (s.strip() for s in term.replace("==", "=").split("=", 1))
            reqs.append(lambda o, p=path, v=val: str(_dig(o, p) or "") == v)
        else:
            raise SelectorError(f"invalid field selector: {term!r}")
    return lambda obj: all(r(obj) for r in reqs)


def match_label_selector(selector, labels):
    """A LabelSelector object (matchLabels/matchExpressions) against labels."""
    labels = labels or {}
    for k, v in (selector or {}).get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for expr in (selector or {}).get("matchExpressions", []):
        key, op, vals = expr.get("key"), expr.get("operator"), expr.get("values") or []
        ok = {"In": lambda: labels.get(key) in vals,
              "NotIn": lambda: labels.get(key) not in vals,
              "Exists": lambda: key in labels,
              "DoesNotExist": lambda: key not in labels}.get(op, lambda: False)()
        if not ok:
            return False
    return True


def selector_string(selector):
    parts = [f"{k}={v}" for k, v in sorted((selector or {}).get("matchLabels", {}).items())]
    for expr in (selector or {}).get("matchExpressions", []):
        op = expr.get("operator")
        if op in ("In", "NotIn"):
            parts.append(f"{expr['key']} {op.lower()} ({','.join(expr.get('values', []))})")
        elif op == "Exists":
            parts.append(expr["key"])
        elif op == "DoesNotExist":
            parts.append("!" + expr["key"])
    return ",".join(parts)
