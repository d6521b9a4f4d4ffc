"""PV provisioning (cephfs.csi.ceph.com, rbd.csi.ceph.com, and a test-only
kubelab.local/hostpath) and PVC<->PV binding.

A claim stays Pending, with a ProvisioningFailed Warning event and
exponential backoff, for as long as provisioning fails: for CephFS that is
whenever no MDS is active (we check the FSMap first, because
`ceph fs subvolume create` would block), for RBD whenever the pool is not
writable within the timeout."""
import logging
import os
import time

from ..ceph import Ceph, CephError
from ..meta import APIError, now_rfc3339
from ..quantity import to_bytes

LOG = logging.getLogger("volumes")

CEPHFS = "cephfs.csi.ceph.com"
RBD = "rbd.csi.ceph.com"
HOSTPATH = "kubelab.local/hostpath"


class ProvisionError(Exception):
    pass


class Provisioners:
    def __init__(self, cfg):
        self.cfg = cfg
        self.ceph = Ceph(cfg)

    def supports(self, name):
        return name in (CEPHFS, RBD, HOSTPATH)

    def provision(self, provisioner, pv_name, size):
        """Returns the PV spec fragment carrying the volume source."""
        try:
            if provisioner == CEPHFS:
                path = self.ceph.create_subvolume(pv_name, size)
                return {"csi": {"driver": CEPHFS, "volumeHandle": f"{self.cfg['cephfs_name']}/{pv_name}",
                                "volumeAttributes": {"fsName": self.cfg["cephfs_name"], "subvolumeName": pv_name,
                                                     "subvolumeGroup": self.cfg["cephfs_subvolume_group"],
                                                     "subvolumePath": path}}}
            if provisioner == RBD:
                self.ceph.create_image(pv_name, size)
                return {"csi": {"driver": RBD, "volumeHandle": f"{self.cfg['rbd_pool']}/{pv_name}",
                                "fsType": "ext4",
                                "volumeAttributes": {"pool": self.cfg["rbd_pool"], "imageName": pv_name,
                                                     "imageFeatures": "layering"}}}
            if provisioner == HOSTPATH:
                path = os.path.join(self.cfg.get("hostpath_provisioner_dir", "/var/lib/kubelab/hostpath"), pv_name)
                os.makedirs(path, exist_ok=True)
                os.chmod(path, 0o777)
                return {"hostPath": {"path": path, "type": "DirectoryOrCreate"}}
        except (CephError, OSError) as exc:
            raise ProvisionError(str(exc)) from exc
        raise ProvisionError(f"unknown provisioner {provisioner}")

    def delete(self, pv):
        csi = (pv.get("spec") or {}).get("csi") or {}
        attrs = csi.get("volumeAttributes") or {}
        try:
            if csi.get("driver") == CEPHFS:
                self.ceph.remove_subvolume(attrs["subvolumeName"])
            elif csi.get("driver") == RBD:
                self.ceph.remove_image(attrs["imageName"])
        except CephError as exc:
            raise ProvisionError(str(exc)) from exc


class VolumeController:
    def __init__(self, client, recorder, cfg, provisioners=None):
        self.client, self.recorder = client, recorder
        self.provisioners = provisioners or Provisioners(cfg)
        self.backoff_initial = float(cfg.get("provision_backoff_initial_seconds", 2))
        self.backoff_max = float(cfg.get("provision_backoff_max_seconds", 60))
        self._backoff = {}   # pvc uid -> (next attempt monotonic, delay)

    def sync(self):
        classes = {sc["metadata"]["name"]: sc for sc in self.client.list("StorageClass")}
        pvs = self.client.list("PersistentVolume")
        for pvc in self.client.list("PersistentVolumeClaim"):
            try:
                self._sync_claim(pvc, classes, pvs)
            except APIError as exc:
                LOG.warning("pvc %s/%s: %s", pvc["metadata"]["namespace"], pvc["metadata"]["name"], exc)
        claims = {(c["metadata"]["namespace"], c["metadata"]["name"], c["metadata"]["uid"])
                  for c in self.client.list("PersistentVolumeClaim")}
        for pv in self.client.list("PersistentVolume"):
            try:
                self._sync_volume(pv, claims)
            except APIError as exc:
                LOG.warning("pv %s: %s", pv["metadata"]["name"], exc)

    # -- claims ----------------------------------------------------------------
    def _sync_claim(self, pvc, classes, pvs):
        md, spec = pvc["metadata"], pvc.get("spec") or {}
        if md.get("deletionTimestamp"):
            return
        if spec.get("volumeName"):
            pv = next((p for p in pvs if p["metadata"]["name"] == spec["volumeName"]), None)
            if pv is not None and (pvc.get("status") or {}).get("phase") != "Bound":
                self._bind(pvc, pv)
            return
        static = self._find_static(pvc, pvs)
        if static:
            return self._bind(pvc, static)
        sc = classes.get(spec.get("storageClassName") or "")
        if sc is None or not self.provisioners.supports(sc.get("provisioner")):
            return
        self._provision(pvc, sc)

    @staticmethod
    def _find_static(pvc, pvs):
        spec = pvc.get("spec") or {}
        want = to_bytes(((spec.get("resources") or {}).get("requests") or {}).get("storage", "0"))
        for pv in pvs:
            ps = pv.get("spec") or {}
            ref = ps.get("claimRef") or {}
            if ref.get("uid") == pvc["metadata"]["uid"]:
                return pv
            if (pv.get("status") or {}).get("phase") != "Available" or ref:
                continue
            if ps.get("storageClassName", "") != (spec.get("storageClassName") or "") or \
                    not set(spec.get("accessModes") or []) <= set(ps.get("accessModes") or []):
                continue
            if to_bytes((ps.get("capacity") or {}).get("storage", "0")) >= want:
                return pv
        return None

    def _provision(self, pvc, sc):
        md, spec = pvc["metadata"], pvc["spec"]
        uid = md["uid"]
        nxt, delay = self._backoff.get(uid, (0.0, self.backoff_initial))
        if time.monotonic() < nxt:
            return
        ns, name = md["namespace"], md["name"]
        prov = sc["provisioner"]
        self.recorder.emit(pvc, "Normal", "ExternalProvisioning",
                           f"Waiting for a volume to be created either by the external provisioner '{prov}' "
                           "or manually by the system administrator. If volume creation is delayed, please "
                           "verify that the provisioner is running and correctly registered.")
        self.recorder.emit(pvc, "Normal", "Provisioning",
                           f'External provisioner is provisioning volume for claim "{ns}/{name}"')
        pv_name = f"pvc-{uid}"
        size_text = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
        try:
            source = self.provisioners.provision(prov, pv_name, to_bytes(size_text))
        except (ProvisionError, ValueError) as exc:
            self._backoff[uid] = (time.monotonic() + delay, min(delay * 2, self.backoff_max))
            LOG.warning("provisioning %s/%s failed (retry in %.0fs): %s", ns, name, delay, exc)
            self.recorder.emit(pvc, "Warning", "ProvisioningFailed",
                               f'failed to provision volume with StorageClass "{sc["metadata"]["name"]}": '
                               f"rpc error: code = Internal desc = {exc}")
            return
        self._backoff.pop(uid, None)
        pv = {"apiVersion": "v1", "kind": "PersistentVolume",
              "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": prov,
                                                            "volume.kubernetes.io/provisioner-deletion-secret-name": ""}},
              "spec": dict(source, capacity={"storage": size_text}, accessModes=spec.get("accessModes"),
                           persistentVolumeReclaimPolicy=sc.get("reclaimPolicy", "Delete"),
                           storageClassName=sc["metadata"]["name"], volumeMode=spec.get("volumeMode", "Filesystem"),
                           claimRef={"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns,
                                     "name": name, "uid": uid})}
        try:
            pv = self.client.create("PersistentVolume", pv)
        except APIError as exc:
            if exc.code != 409:
                raise
            pv = self.client.get("PersistentVolume", None, pv_name)
        LOG.info("provisioned %s for %s/%s", pv_name, ns, name)
        self.recorder.emit(pvc, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}")
        self._bind(pvc, pv)

    def _bind(self, pvc, pv):
        md = pvc["metadata"]
        pv_name = pv["metadata"]["name"]
        if ((pv.get("spec") or {}).get("claimRef") or {}).get("uid") != md["uid"]:
            self.client.patch("PersistentVolume", None, pv_name, {"spec": {"claimRef": {
                "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": md["namespace"],
                "name": md["name"], "uid": md["uid"]}}})
        self.client.patch("PersistentVolumeClaim", md["namespace"], md["name"], {
            "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes",
                                         "pv.kubernetes.io/bound-by-controller": "yes"}},
            "spec": {"volumeName": pv_name}})
        self.client.patch("PersistentVolume", None, pv_name, {"status": {"phase": "Bound"}}, sub="status")
        self.client.patch("PersistentVolumeClaim", md["namespace"], md["name"], {"status": {
            "phase": "Bound", "accessModes": pv["spec"].get("accessModes"),
            "capacity": pv["spec"].get("capacity")}}, sub="status")
        LOG.info("bound %s/%s to %s", md["namespace"], md["name"], pv_name)

    # -- volumes -----------------------------------------------------------------
    def _sync_volume(self, pv, claims):
        spec, st = pv.get("spec") or {}, pv.get("status") or {}
        ref = spec.get("claimRef")
        if not ref or st.get("phase") in ("Released", "Failed"):
            if not ref and st.get("phase") != "Available":
                self.client.patch("PersistentVolume", None, pv["metadata"]["name"], {"status": {"phase": "Available"}},
                                  sub="status")
            return
        if not ref.get("uid") or (ref.get("namespace"), ref.get("name"), ref.get("uid")) in claims:
            return
        name = pv["metadata"]["name"]
        if spec.get("persistentVolumeReclaimPolicy") == "Delete":
            try:
                self.provisioners.delete(pv)
            except ProvisionError as exc:
                LOG.warning("deleting backing volume of %s failed: %s", name, exc)
                self.client.patch("PersistentVolume", None, name, {"status": {
                    "phase": "Failed", "message": str(exc)[:300], "lastPhaseTransitionTime": now_rfc3339()}},
                    sub="status")
                return
            self.client.delete("PersistentVolume", None, name)
            LOG.info("deleted %s (reclaimPolicy Delete)", name)
            return
        LOG.info("claim of %s is gone: Released (reclaimPolicy %s)", name, spec.get("persistentVolumeReclaimPolicy"))
        self.client.patch("PersistentVolume", None, name, {"status": {"phase": "Released",
                                                                      "lastPhaseTransitionTime": now_rfc3339()}},
                          sub="status")
