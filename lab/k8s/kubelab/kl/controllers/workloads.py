"""Deployment -> ReplicaSet -> Pod, with controller ownerReferences (so
kubectl drain treats the pods as managed and the replacement lands on
another node).  Rollouts are Recreate-like: a new template hash gets a new
ReplicaSet and older ones are scaled to 0."""
import copy
import hashlib
import json
import logging

from ..meta import APIError, condition, controller_ref, now_rfc3339

LOG = logging.getLogger("workloads")


def owner_ref(obj):
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def template_hash(template):
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    num = int(digest[:16], 16)
    out = ""
    for _ in range(10):
        num, r = divmod(num, len(alphabet))
        out += alphabet[r]
    return out


def owned_by(items, owner):
    uid = owner["metadata"]["uid"]
    return [i for i in items if (controller_ref(i) or {}).get("uid") == uid]


def pod_ready(pod):
    return (condition(pod, "Ready") or {}).get("status") == "True"


def active(pod):
    return not pod["metadata"].get("deletionTimestamp") and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


class ReplicaSetController:
    def __init__(self, client, recorder):
        self.client, self.recorder = client, recorder

    def sync(self):
        pods = self.client.list("Pod")
        for rs in self.client.list("ReplicaSet"):
            if rs["metadata"].get("deletionTimestamp"):
                continue
            try:
                self.sync_one(rs, owned_by(pods, rs))
            except APIError as exc:
                LOG.warning("replicaset %s/%s: %s", rs["metadata"]["namespace"], rs["metadata"]["name"], exc)

    def sync_one(self, rs, pods):
        ns, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        live = [p for p in pods if active(p)]
        want = int((rs.get("spec") or {}).get("replicas", 1))
        for _ in range(want - len(live)):
            tmpl = copy.deepcopy(rs["spec"].get("template") or {})
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"generateName": f"{name}-", "namespace": ns,
                                "labels": (tmpl.get("metadata") or {}).get("labels") or {},
                                "annotations": (tmpl.get("metadata") or {}).get("annotations") or {},
                                "ownerReferences": [owner_ref(rs)]},
                   "spec": tmpl.get("spec") or {}}
            created = self.client.create("Pod", pod, ns)
            live.append(created)
            LOG.info("replicaset %s/%s: created pod %s", ns, name, created["metadata"]["name"])
            self.recorder.emit(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        if len(live) > want:
            victims = sorted(live, key=lambda p: (bool((p.get("spec") or {}).get("nodeName")), pod_ready(p)))
            for pod in victims[: len(live) - want]:
                self.client.delete("Pod", ns, pod["metadata"]["name"])
                live.remove(pod)
                self.recorder.emit(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
        ready = sum(1 for p in live if pod_ready(p))
        status = {"replicas": len(live), "fullyLabeledReplicas": len(live), "readyReplicas": ready,
                  "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}
        if any((rs.get("status") or {}).get(k) != v for k, v in status.items()):
            def mutate(cur):
                cur["status"] = status
                return cur
            self.client.update_status("ReplicaSet", rs, mutate)


class DeploymentController:
    def __init__(self, client, recorder):
        self.client, self.recorder = client, recorder

    def sync(self):
        sets = self.client.list("ReplicaSet")
        for dep in self.client.list("Deployment"):
            if dep["metadata"].get("deletionTimestamp"):
                continue
            try:
                self.sync_one(dep, owned_by(sets, dep))
            except APIError as exc:
                LOG.warning("deployment %s/%s: %s", dep["metadata"]["namespace"], dep["metadata"]["name"], exc)

    def sync_one(self, dep, sets):
        ns, name, spec = dep["metadata"]["namespace"], dep["metadata"]["name"], dep["spec"]
        h = template_hash(spec.get("template"))
        want = int(spec.get("replicas", 1))
        current = next((rs for rs in sets if (rs["metadata"].get("labels") or {}).get("pod-template-hash") == h), None)
        if current is None:
            tmpl = copy.deepcopy(spec.get("template") or {})
            tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            selector = copy.deepcopy(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})["pod-template-hash"] = h
            current = self.client.create("ReplicaSet", {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"{name}-{h}", "namespace": ns, "labels": tmpl["metadata"]["labels"],
                             "annotations": {"deployment.kubernetes.io/desired-replicas": str(want),
                                             "deployment.kubernetes.io/revision": str(len(sets) + 1)},
                             "ownerReferences": [owner_ref(dep)]},
                "spec": {"replicas": want, "selector": selector, "template": tmpl}}, ns)
            sets = sets + [current]
            LOG.info("deployment %s/%s: created replicaset %s", ns, name, current["metadata"]["name"])
            self.recorder.emit(dep, "Normal", "ScalingReplicaSet",
                               f"Scaled up replica set {current['metadata']['name']} from 0 to {want}")
        for rs in sets:
            target = want if rs is current else 0
            if int(rs["spec"].get("replicas", 1)) != target:
                self.client.patch("ReplicaSet", ns, rs["metadata"]["name"], {"spec": {"replicas": target}})
                self.recorder.emit(dep, "Normal", "ScalingReplicaSet",
                                   f"Scaled {'up' if target else 'down'} replica set {rs['metadata']['name']} "
                                   f"from {rs['spec'].get('replicas', 1)} to {target}")
        total = sum((rs.get("status") or {}).get("replicas", 0) for rs in sets)
        ready = sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in sets)
        updated = (current.get("status") or {}).get("replicas", 0)
        available = ready >= want
        status = {"observedGeneration": dep["metadata"].get("generation", 1), "replicas": total,
                  "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
                  "unavailableReplicas": max(want - ready, 0)}
        old = dep.get("status") or {}
        old_avail = (condition(dep, "Available") or {}).get("status")
        if all(old.get(k) == v for k, v in status.items()) and old_avail == ("True" if available else "False"):
            return

        def mutate(cur):
            now = now_rfc3339()
            prev = {c["type"]: c for c in (cur.get("status") or {}).get("conditions") or []}
            avail = {"type": "Available", "status": "True" if available else "False",
                     "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                     "message": "Deployment has minimum availability." if available
                     else "Deployment does not have minimum availability.", "lastUpdateTime": now,
                     "lastTransitionTime": now}
            if prev.get("Available", {}).get("status") == avail["status"]:
                avail["lastTransitionTime"] = prev["Available"].get("lastTransitionTime", now)
            prog = prev.get("Progressing") or {
                "type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{current["metadata"]["name"]}" has successfully progressed.',
                "lastUpdateTime": now, "lastTransitionTime": now}
            cur["status"] = dict(status, conditions=[avail, prog])
            return cur
        self.client.update_status("Deployment", dep, mutate)

