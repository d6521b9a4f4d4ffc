"""The real Ceph CLIs (ceph, rbd, ceph-fuse, rbd-fuse) with bounded time."""
import json
import logging
import re
import subprocess

LOG = logging.getLogger("ceph")


_LOG_PREFIX = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+[+-]\d{4} [0-9a-f]+ +-?\d+ ")
_PID = re.compile(r"\[\d+\]|0x[0-9a-f]+")


# progress chatter whose presence and order vary between two runs of the same failure
_NOISE = re.compile(r"init, newargv|starting ceph client|starting fuse|Falling back to public interface|"
                    r"did not load config file")


def stable_text(text):
    """Daemon output without timestamps/thread ids/pids/progress lines, so that
    the same failure gives the same message (and Events aggregate with count++)."""
    lines = []
    for line in _PID.sub("", _LOG_PREFIX.sub("", text or "")).splitlines():
        line = line.strip()
        if line and not _NOISE.search(line) and line not in lines:
            lines.append(line)
    return "\n".join(lines)


class CephError(Exception):
    def __init__(self, cmd, rc, stdout, stderr):
        self.cmd, self.rc, self.stdout, self.stderr = cmd, rc, stdout, stderr
        tail = stable_text(stderr or stdout)
        super().__init__(f"an error (exit status {rc}) occurred while running {cmd[0]} "
                         f"args: {cmd[1:]} stderr: {tail[-600:]}")


class Ceph:
    def __init__(self, cfg):
        self.conf, self.keyring, self.user = cfg["ceph_conf"], cfg["ceph_keyring"], cfg["ceph_user"]
        self.timeout = int(cfg["ceph_timeout_seconds"])
        self.fs_name, self.group, self.pool = cfg["cephfs_name"], cfg["cephfs_subvolume_group"], cfg["rbd_pool"]

    def common(self):
        return ["-c", self.conf, "--keyring", self.keyring, "--id", self.user]

    def run(self, cmd, timeout=None, check=True, env=None):
        timeout = timeout or self.timeout
        full = ["timeout", "-k", "5", str(timeout)] + cmd
        LOG.debug("running %s", " ".join(cmd))
        try:
            res = subprocess.run(full, capture_output=True, text=True, timeout=timeout + 10,
                                 env=dict(env or {}, LC_ALL="C", PATH="/usr/sbin:/usr/bin:/sbin:/bin"))
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CephError(cmd, -1, "", str(exc)) from exc
        if check and res.returncode != 0:
            stderr = res.stderr if res.returncode != 124 else (res.stderr + f"\ntimed out after {timeout}s")
            raise CephError(cmd, res.returncode, res.stdout, stderr)
        return res

    def ceph_json(self, *args):
        res = self.run(["ceph"] + self.common() + ["--connect-timeout", "10", "--rados_mon_op_timeout=10",
                                                   "--rados_osd_op_timeout=10"] + list(args) + ["-f", "json"])
        return json.loads(res.stdout) if res.stdout.strip() else None

    # -- CephFS ----------------------------------------------------------------
    def active_mds(self):
        """Names of up:active MDS daemons of our filesystem (mon-side data: no mgr needed)."""
        dump = self.ceph_json("fs", "dump")
        for fs in (dump or {}).get("filesystems", []):
            mdsmap = fs.get("mdsmap", {})
            if mdsmap.get("fs_name") == self.fs_name:
                return [i.get("name") for i in mdsmap.get("info", {}).values() if i.get("state") == "up:active"]
        raise CephError(["ceph", "fs", "dump"], 2, "", f"filesystem {self.fs_name!r} not found")

    def create_subvolume(self, name, size_bytes):
        if not self.active_mds():
            raise CephError(["ceph", "fs", "subvolume", "create"], 11, "",
                            f"no active MDS for filesystem {self.fs_name} (is the MDS down?); "
                            "subvolume creation would hang")
        self.ceph_json("fs", "subvolumegroup", "create", self.fs_name, self.group)
        self.run(["ceph"] + self.common() + ["--connect-timeout", "10", "fs", "subvolume", "create", self.fs_name,
                                             name, "--group_name", self.group, "--size", str(size_bytes),
                                             "--mode", "777"])
        res = self.run(["ceph"] + self.common() + ["--connect-timeout", "10", "fs", "subvolume", "getpath",
                                                   self.fs_name, name, "--group_name", self.group])
        return res.stdout.strip()

    def remove_subvolume(self, name):
        self.run(["ceph"] + self.common() + ["--connect-timeout", "10", "fs", "subvolume", "rm", self.fs_name,
                                             name, "--group_name", self.group])

    def fuse_mount(self, root_path, mountpoint):
        """ceph-fuse daemonizes after a successful mount; with no MDS it fails at once."""
        return self.run(["ceph-fuse"] + self.common() + [f"--client_fs={self.fs_name}", "--client_mount_timeout=15",
                                                          "-r", root_path, mountpoint], timeout=60)

    # -- RBD ---------------------------------------------------------------------
    def rbd(self, *args, timeout=None):
        return self.run(["rbd"] + self.common() + ["--rados_mon_op_timeout=10", "--rados_osd_op_timeout=30"]
                        + list(args), timeout=timeout)

    def rbd_fuse_mount(self, pool, image, mountpoint):
        """rbd-fuse takes no --id/--keyring; librados reads them from CEPH_ARGS."""
        return self.run(["rbd-fuse", "-c", self.conf, "-p", pool, "-r", image, mountpoint], timeout=60,
                        env={"CEPH_ARGS": f"--id {self.user} --keyring {self.keyring} --client_mount_timeout=15"})

    def create_image(self, name, size_bytes):
        mib = max(1, (size_bytes + (1 << 20) - 1) >> 20)
        self.rbd("create", "--size", str(mib), "--image-feature", "layering", f"{self.pool}/{name}")

    def remove_image(self, name):
        self.rbd("rm", f"{self.pool}/{name}")
