"""Pod volumes, mounted for real.

  emptyDir                      a directory under the pod dir
  hostPath / hostPath PVs       the host directory itself
  CephFS CSI PVs                ceph-fuse of the PV's subvolume path
  RBD CSI PVs                   rbd-fuse exposes the pool's images as files;
                                the image carries an ext4 filesystem (mkfs on
                                first use) mounted with fuse2fs, so every byte
                                the workload writes lands in the RBD image.

Mount failures raise MountError with the kubelet's message format; the pod
worker turns them into FailedMount events and retries with backoff."""
import logging
import os
import shutil
import subprocess
import time

from ..ceph import Ceph, CephError
from ..meta import APIError

LOG = logging.getLogger("volumes")

CEPHFS = "cephfs.csi.ceph.com"
RBD = "rbd.csi.ceph.com"


class MountError(Exception):
    def __init__(self, message, reason="FailedMount"):
        super().__init__(message)
        self.reason = reason


def mountpoints():
    out = {}
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                fields = line.split()
                sep = fields.index("-")
                mp = fields[4].encode().decode("unicode_escape")
                out[mp] = fields[sep + 1]
    except (OSError, ValueError):
        pass
    return out


def _try(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def unmount(path, busy_wait=10.0):
    """Unmount; a busy mount (rbd-fuse while fuse2fs still closes its image
    file) is retried for busy_wait seconds, then detached lazily."""
    deadline = time.monotonic() + busy_wait
    while True:
        if _try(["fusermount", "-u", path]) or _try(["umount", path]) or path not in mountpoints():
            return True
        if time.monotonic() >= deadline:
            return _try(["umount", "-l", path])
        time.sleep(0.5)


def fuse_daemons(needle):
    """PIDs of processes whose command line mentions needle (our FUSE daemons)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if needle.encode() in fh.read():
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def wait_gone(needle, timeout):
    deadline = time.monotonic() + timeout
    while fuse_daemons(needle):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


class VolumeManager:
    def __init__(self, client, cfg):
        self.client, self.cfg = client, cfg
        self.root = os.path.join(cfg["kubelet_root"], "pods")
        self.ceph = Ceph(cfg)

    def prepare(self):
        """Make the pods dir a shared mount, as the real kubelet does with its
        root dir: containers run in mount namespaces with *slave* propagation,
        so when we unmount a volume here the copies in every container's
        namespace go too (with private copies a fuse2fs mount would live on
        in an unrelated container's namespace and keep writing the image)."""
        os.makedirs(self.root, exist_ok=True)
        mounts = mountpoints()
        if self.root not in mounts and any(mp.startswith(self.root + "/") for mp in mounts):
            # volumes mounted by an earlier kubelet without the shared root: binding over
            # them would shadow them (and leave copies we could never unmount)
            LOG.warning("%s has volume mounts but is not a shared mount yet; not changing it until the "
                        "host restarts", self.root)
            return False
        steps = ([] if self.root in mounts else [["mount", "--bind", self.root, self.root]]) + \
            [["mount", "--make-rshared", self.root]]
        for cmd in steps:
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                LOG.warning("%s failed (%s): volumes unmounted here stay alive in containers' mount "
                            "namespaces until those containers exit", " ".join(cmd), res.stderr.strip())
                return False
        return True

    def pod_dir(self, uid):
        return os.path.join(self.root, uid)

    # -- set up -------------------------------------------------------------
    def setup(self, pod):
        """Returns {volume name: host path}; raises MountError."""
        paths = {}
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            paths[vol["name"]] = self._setup_one(pod, vol)
        return paths

    def _setup_one(self, pod, vol):
        uid, name = pod["metadata"]["uid"], vol["name"]
        if "emptyDir" in vol:
            path = os.path.join(self.pod_dir(uid), "volumes", "kubernetes.io~empty-dir", name)
            os.makedirs(path, exist_ok=True)
            return path
        if "hostPath" in vol:
            return self._host_path(vol["hostPath"])
        if "persistentVolumeClaim" in vol:
            return self._pvc(pod, vol)
        raise MountError(f'MountVolume.SetUp failed for volume "{name}" : volume type not supported by kubelab '
                         f"(supported: emptyDir, hostPath, persistentVolumeClaim)")

    @staticmethod
    def _host_path(src):
        path = src["path"]
        if src.get("type") in ("DirectoryOrCreate", None, ""):
            os.makedirs(path, exist_ok=True)
        if not os.path.exists(path):
            raise MountError(f"hostPath type check failed: {path} does not exist")
        return path

    def _pvc(self, pod, vol):
        ns = pod["metadata"]["namespace"]
        claim = vol["persistentVolumeClaim"]["claimName"]
        try:
            pvc = self.client.get_or_none("PersistentVolumeClaim", ns, claim)
            if pvc is None or (pvc.get("status") or {}).get("phase") != "Bound":
                raise MountError(f'persistentvolumeclaim "{claim}" is not bound')
            pv = self.client.get("PersistentVolume", None, pvc["spec"]["volumeName"])
        except APIError as exc:
            raise MountError(f"cannot resolve claim {ns}/{claim}: {exc}") from exc
        spec = pv.get("spec") or {}
        if "ReadWriteOnce" in (spec.get("accessModes") or []) and "hostPath" not in spec:
            self._check_single_attach(pod, claim, pv["metadata"]["name"])
        if "hostPath" in spec:
            return self._host_path(spec["hostPath"])
        driver = (spec.get("csi") or {}).get("driver")
        target = os.path.join(self.pod_dir(pod["metadata"]["uid"]), "volumes", "kubernetes.io~csi",
                              pv["metadata"]["name"], "mount")
        if driver == CEPHFS:
            return self._cephfs(pv, target)
        if driver == RBD:
            return self._rbd(pv, target)
        raise MountError(f'MountVolume.SetUp failed for volume "{pv["metadata"]["name"]}" : '
                         f"kubernetes.io/csi: driver name {driver} not found in the list of registered CSI drivers")

    def _check_single_attach(self, pod, claim, pv_name):
        """An RWO volume mounted by two pods at once would corrupt its ext4
        (rbd-fuse takes no lock): wait, like the attach/detach controller's
        Multi-Attach error, until the other pod is gone from the API (which
        its kubelet does only after unmounting)."""
        ns, uid = pod["metadata"]["namespace"], pod["metadata"]["uid"]
        users = [p["metadata"]["name"] for p in self.client.list("Pod", ns)
                 if p["metadata"]["uid"] != uid and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                 and (p.get("spec") or {}).get("nodeName")
                 and any((v.get("persistentVolumeClaim") or {}).get("claimName") == claim
                         for v in (p.get("spec") or {}).get("volumes") or [])]
        if users:
            raise MountError(f'Multi-Attach error for volume "{pv_name}" Volume is already used by pod(s) '
                             f'{", ".join(users)}', reason="FailedAttachVolume")

    def _cephfs(self, pv, target):
        if target in mountpoints():
            return target   # adopted from before a kubelet restart
        os.makedirs(target, exist_ok=True)
        attrs = pv["spec"]["csi"].get("volumeAttributes") or {}
        try:
            self.ceph.fuse_mount(attrs["subvolumePath"], target)
        except CephError as exc:
            raise MountError(f'MountVolume.MountDevice failed for volume "{pv["metadata"]["name"]}" : rpc error: '
                             f"code = Internal desc = {exc}") from exc
        LOG.info("mounted cephfs %s at %s", attrs["subvolumePath"], target)
        return target

    def _rbd(self, pv, target):
        if target in mountpoints():
            return target
        attrs = pv["spec"]["csi"].get("volumeAttributes") or {}
        pool, image = attrs["pool"], attrs["imageName"]
        base = os.path.join(os.path.dirname(target), "rbd-fuse")
        os.makedirs(base, exist_ok=True)
        os.makedirs(target, exist_ok=True)
        blockfile = os.path.join(base, image)
        name = pv["metadata"]["name"]
        try:
            if base not in mountpoints():
                self.ceph.rbd_fuse_mount(pool, image, base)
            if not os.path.exists(blockfile):
                raise CephError(["rbd-fuse"], 1, "", f"image {pool}/{image} not visible under {base}")
            probe = self.ceph.run(["blkid", "-p", "-o", "value", "-s", "TYPE", blockfile], check=False)
            if "ext4" not in probe.stdout:
                LOG.info("formatting rbd image %s/%s with ext4", pool, image)
                self.ceph.run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1",
                               blockfile], timeout=300)
            self.ceph.run(["fuse2fs", "-o", "fakeroot,allow_other", blockfile, target], timeout=120)
        except CephError as exc:
            raise MountError(f'MountVolume.MountDevice failed for volume "{name}" : rpc error: code = Internal '
                             f"desc = {exc}") from exc
        LOG.info("mounted rbd %s/%s (rbd-fuse + fuse2fs) at %s", pool, image, target)
        return target

    # -- tear down ------------------------------------------------------------
    def teardown(self, uid):
        """Unmount everything under the pod dir (fuse2fs before rbd-fuse). True when clean."""
        pod_dir = self.pod_dir(uid)
        mine = sorted((mp for mp in mountpoints() if mp.startswith(pod_dir + "/")), key=len, reverse=True)
        ok = True
        for mp in sorted(mine, key=lambda p: (p.endswith("/rbd-fuse"), -len(p))):
            if mp.endswith("/rbd-fuse"):
                # fuse2fs writes the filesystem back on exit: the image file must
                # stay reachable until it is gone, never detach it lazily before
                image_users = [p for p in fuse_daemons(mp + "/") if p != os.getpid()]
                if image_users and not wait_gone(mp + "/", 60):
                    LOG.warning("fuse2fs on %s still running; keeping rbd-fuse mounted", mp)
                    ok = False
                    continue
            if unmount(mp):
                LOG.info("unmounted %s", mp)
            else:
                LOG.warning("could not unmount %s", mp)
                ok = False
        return ok

    def remove_pod_dir(self, uid):
        """Delete the pod dir (emptyDir data included) -- only when nothing is
        mounted below it any more, so a FUSE volume can never be emptied."""
        pod_dir = self.pod_dir(uid)
        if any(mp == pod_dir or mp.startswith(pod_dir + "/") for mp in mountpoints()):
            LOG.warning("not removing %s: still has mounts", pod_dir)
            return False
        shutil.rmtree(pod_dir, ignore_errors=True)
        return True

    def known_pod_dirs(self):
        try:
            return os.listdir(self.root)
        except OSError:
            return []
