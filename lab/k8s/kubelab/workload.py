#!/usr/bin/env python3
"""Deterministic data workload for the lab's "jenkins"/"harbor" pods.

First start on an empty volume: writes --files files of --size seeded
pseudo-random bytes under DIR/<name>/ plus DIR/<name>/MANIFEST.sha256
(sha256sum format, written last, atomically).  Any later start (after a
drain, a restart, a power cycle) finds the manifest and only verifies.  Then
it keeps running and re-verifies every --interval seconds, logging
"verify ok" or "verify FAILED ..." (and exits 1 on failure when --once).

The same module is the library behind lab/k8s/bin/verify-volume."""
import argparse
import hashlib
import os
import random
import sys
import time

MANIFEST = "MANIFEST.sha256"


def log(msg):
    sys.stdout.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + msg + "\n")
    sys.stdout.flush()


def expected_files(name, files, size):
    rng = random.Random(f"kubelab:{name}")
    for i in range(files):
        yield f"data-{i:04d}.bin", rng.randbytes(size)


def write(root, name, files, size):
    os.makedirs(root, exist_ok=True)
    lines = []
    for fname, data in expected_files(name, files, size):
        path = os.path.join(root, fname)
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {fname}\n")
    tmp = os.path.join(root, MANIFEST + ".tmp")
    with open(tmp, "w") as fh:
        fh.writelines(lines)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, os.path.join(root, MANIFEST))
    log(f"wrote {files} files of {size} bytes and {MANIFEST} in {root}")


def verify(root):
    """Returns (ok, checked, problems)."""
    manifest = os.path.join(root, MANIFEST)
    try:
        with open(manifest) as fh:
            entries = [line.rstrip("\n").split("  ", 1) for line in fh if line.strip()]
    except OSError as exc:
        return False, 0, [f"cannot read {manifest}: {exc}"]
    problems = []
    for digest, fname in entries:
        try:
            with open(os.path.join(root, fname), "rb") as fh:
                actual = hashlib.sha256(fh.read()).hexdigest()
        except OSError as exc:
            problems.append(f"{fname}: {exc}")
            continue
        if actual != digest:
            problems.append(f"{fname}: checksum mismatch")
    return not problems and bool(entries), len(entries), problems


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True, help="the volume's mount path")
    p.add_argument("--name", required=True, help="workload name (seed and subdirectory)")
    p.add_argument("--files", type=int, default=16)
    p.add_argument("--size", type=int, default=65536)
    p.add_argument("--interval", type=float, default=30)
    p.add_argument("--once", action="store_true")
    args = p.parse_args(argv)
    root = os.path.join(args.dir, args.name)
    if not os.path.exists(os.path.join(root, MANIFEST)):
        write(root, args.name, args.files, args.size)
    while True:
        ok, n, problems = verify(root)
        log(f"verify ok: {n} files in {root}" if ok else f"verify FAILED in {root}: {'; '.join(problems)[:500]}")
        if args.once:
            return 0 if ok else 1
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
