#!/usr/bin/env python3
"""Container entry: runs inside `unshare --mount --propagation slave`,
bind-mounts each volume onto its mountPath in that private mount namespace,
then execs the container command.  Stdlib only; no kubelab imports.

argv: podinit.py <json spec> -- command args...
spec: {"mounts": [[host_path, mount_path, read_only], ...], "cwd": "/"}"""
import json
import os
import subprocess
import sys


def main():
    spec = json.loads(sys.argv[1])
    argv = sys.argv[sys.argv.index("--") + 1:]
    for src, dst, read_only in spec.get("mounts", []):
        os.makedirs(dst, exist_ok=True)
        opts = ["--bind"]
        res = subprocess.run(["mount", *opts, src, dst], capture_output=True, text=True)
        if res.returncode != 0:
            sys.stderr.write(f"kubelab: bind mount {src} -> {dst} failed: {res.stderr}")
            return 128
        if read_only:
            subprocess.run(["mount", "-o", "remount,bind,ro", dst], capture_output=True)
    os.chdir(spec.get("cwd") or "/")
    try:
        os.execvpe(argv[0], argv, os.environ)
    except OSError as exc:
        sys.stderr.write(f"kubelab: exec {argv[0]}: {exc}\n")
        return 127


if __name__ == "__main__":
    sys.exit(main())
