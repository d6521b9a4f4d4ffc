#!/usr/bin/env python3
"""Write a one-layer image holding a static binary as a tarball that `ctr -n k8s.io images import`
and `podman load` accept, with no registry and no container tool: an OCI image layout (oci-layout,
index.json, blobs/sha256/...) plus the docker-archive manifest.json beside it, as `docker save` writes.

The image is what Kubernetes' build/pause/Dockerfile makes: FROM scratch, ADD pause /pause,
USER 65535:65535, ENTRYPOINT ["/pause"]. Every timestamp is --created, so the same binary gives the
same bytes (and the same image digest) on every machine.

    pause-image.py --binary pause --name registry.k8s.io/pause:3.10.2 --created 2026-10-27T12:01:04Z --out pause.tar
"""
import argparse
import datetime
import hashlib
import io
import json
import sys
import tarfile


def tar_bytes(entries, mtime):
    """entries: list of (name, bytes, mode); a deterministic uncompressed tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True, help="static binary to put at /<entrypoint>")
    ap.add_argument("--name", required=True, help="image reference, e.g. registry.k8s.io/pause:3.10.2")
    ap.add_argument("--entrypoint", default="/pause")
    ap.add_argument("--user", default="65535:65535")
    ap.add_argument("--created", required=True, help="RFC 3339 UTC time for every timestamp")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)

    if ":" not in a.name.rsplit("/", 1)[-1]:
        sys.exit(f"pause-image: --name {a.name!r} has no tag (want REPO:TAG)")
    created = a.created.replace("Z", "+00:00")
    mtime = int(datetime.datetime.fromisoformat(created).timestamp())
    with open(a.binary, "rb") as f:
        binary = f.read()

    layer = tar_bytes([(a.entrypoint.lstrip("/"), binary, 0o755)], mtime)
    layer_digest = digest(layer)
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "created": a.created,
        "config": {"User": a.user, "Entrypoint": [a.entrypoint],
                   "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created": a.created, "created_by": f"ADD {a.entrypoint} (lab/upstream/pause-image.py)"}],
    }, sort_keys=True, separators=(",", ":")).encode()
    config_digest = digest(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": len(layer)}],
    }, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = digest(manifest)
    tag = a.name.rsplit(":", 1)[1]
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            # containerd names the image from the first, podman/skopeo from the second
            "annotations": {"io.containerd.image.name": a.name, "org.opencontainers.image.ref.name": tag},
        }],
    }, sort_keys=True, separators=(",", ":")).encode()
    blob = lambda d: "blobs/sha256/" + d.split(":", 1)[1]
    docker_manifest = json.dumps([{
        "Config": blob(config_digest), "RepoTags": [a.name], "Layers": [blob(layer_digest)],
    }], separators=(",", ":")).encode()

    entries = [
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', 0o644),
        ("index.json", index, 0o644),
        ("manifest.json", docker_manifest, 0o644),
        (blob(config_digest), config, 0o644),
        (blob(layer_digest), layer, 0o644),
        (blob(manifest_digest), manifest, 0o644),
    ]
    with open(a.out, "wb") as f:
        f.write(tar_bytes(entries, mtime))
    print(f"pause-image: wrote {a.out}: {a.name} manifest {manifest_digest}")


if __name__ == "__main__":
    main()
