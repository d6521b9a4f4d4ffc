"""Local image builds: debootstrap minbase -> podman import -> Containerfile layers (base, ceph, k8s).

Nothing is pulled from a registry. Each image is tagged with a hash of everything that defines it,
so `build` is a no-op when the images exist and a rebuild happens only when a definition changed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time

from .core import IMAGE_REPO, LAB_DIR, STATE_DIR, LabError, log, podman, podman_env

IMAGES_DIR = LAB_DIR / "images"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
INCLUDE = ("systemd,systemd-sysv,dbus,openssh-server,python3,iproute2,sudo,procps,iputils-ping,"
           "ca-certificates,less,curl,netbase")
# apt sources given to the images: the same Debian mirror the build host uses (no other repositories)
APT_SOURCES = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def _h(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def image_tags() -> dict:
    rootfs = _h("rootfs", SUITE, MIRROR, INCLUDE, APT_SOURCES)
    base = _h(rootfs, (IMAGES_DIR / "Containerfile.base").read_text())
    ceph = _h(base, (IMAGES_DIR / "Containerfile.ceph").read_text())
    k8s = _h(ceph, (IMAGES_DIR / "Containerfile.k8s").read_text())
    return {
        "rootfs": f"{IMAGE_REPO}/rootfs:{rootfs}",
        "base": f"{IMAGE_REPO}/base:{base}",
        "ceph": f"{IMAGE_REPO}/ceph:{ceph}",
        "k8s": f"{IMAGE_REPO}/k8s:{k8s}",
    }


def image_exists(ref: str) -> bool:
    return podman("image", "exists", ref, check=False).returncode == 0


def _build_rootfs(ref: str) -> None:
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap is not installed (apt-get install debootstrap podman runc)")
    work = STATE_DIR / "build"
    root = work / "rootfs"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    root.mkdir(parents=True)
    t = time.monotonic()
    log(f"debootstrap {SUITE} minbase -> {root}")
    with open(work / "debootstrap.log", "w") as lf:
        p = subprocess.run(["debootstrap", "--variant=minbase", f"--include={INCLUDE}", SUITE, str(root), MIRROR],
                           stdout=lf, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise LabError(f"debootstrap failed, see {work / 'debootstrap.log'}")
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(APT_SOURCES)
    subprocess.run(["rm", "-rf", str(root / "var/cache/apt/archives"), str(root / "var/lib/apt/lists")], check=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)
    log(f"debootstrap done in {time.monotonic() - t:.0f}s; importing")
    tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE)
    imp = subprocess.run(["podman", "import", "--change", 'CMD ["/sbin/init"]', "-", ref], stdin=tar.stdout,
                         env=podman_env(), capture_output=True, text=True)
    tar.wait()
    if imp.returncode != 0 or tar.returncode != 0:
        raise LabError(f"podman import failed: {imp.stderr}")
    subprocess.run(["rm", "-rf", str(work)], check=True)


def _build_layer(ref: str, containerfile: str, argname: str, argval: str) -> None:
    t = time.monotonic()
    log(f"building {ref} from {containerfile}")
    logf = STATE_DIR / f"build-{containerfile}.log"
    with open(logf, "w") as lf:
        p = subprocess.run(["podman", "build", "--network", "host", "--pull=never", "--layers",
                            "--build-arg", f"{argname}={argval}", "-f", str(IMAGES_DIR / containerfile),
                            "-t", ref, str(IMAGES_DIR)], env=podman_env(), stdout=lf, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise LabError(f"podman build {containerfile} failed, see {logf}")
    log(f"built {ref} in {time.monotonic() - t:.0f}s")


def build(force: bool = False) -> dict:
    tags = image_tags()
    t = time.monotonic()
    if force or not image_exists(tags["base"]):
        if force or not image_exists(tags["rootfs"]):
            _build_rootfs(tags["rootfs"])
        _build_layer(tags["base"], "Containerfile.base", "ROOTFS", tags["rootfs"])
    if force or not image_exists(tags["ceph"]):
        _build_layer(tags["ceph"], "Containerfile.ceph", "BASE", tags["base"])
    if force or not image_exists(tags["k8s"]):
        _build_layer(tags["k8s"], "Containerfile.k8s", "BASE", tags["ceph"])
    dt = time.monotonic() - t
    if dt > 2:
        log(f"images ready in {dt:.0f}s")
    return tags


def purge() -> None:
    """Remove every lab image (the next lab-up rebuilds them)."""
    p = podman("images", "--format", "{{.Repository}}:{{.Tag}}", check=False)
    refs = [r for r in p.stdout.split() if r.startswith(IMAGE_REPO)]
    if refs:
        podman("rmi", "-f", *refs, check=False)
    podman("image", "prune", "-f", check=False)
