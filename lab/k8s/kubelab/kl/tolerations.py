"""Taint/toleration matching (as in k8s.io/api/core/v1 helpers)."""


def tolerates(toleration, taint):
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    op = toleration.get("operator", "Equal")
    if not toleration.get("key"):
        return op == "Exists"
    if toleration["key"] != taint.get("key"):
        return False
    if op == "Exists":
        return True
    return (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(pod, taints, effects=("NoSchedule", "NoExecute")):
    tols = (pod.get("spec") or {}).get("tolerations") or []
    return [t for t in taints or [] if t.get("effect") in effects and not any(tolerates(x, t) for x in tols)]
