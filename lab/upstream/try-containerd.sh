#!/usr/bin/env bash
# Issue 9, step 1: prove the built containerd 2.x + shim + crictl with Debian's runc on this host, and
# that the locally built pause image imports as kubeadm names it. No lab, no network: a private
# containerd (own root, state and socket under lab/.state/upstream/try-containerd), stopped at the end.
#
#   lab/upstream/try-containerd.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${UPSTREAM_STATE:-$ROOT/lab/.state/upstream}
BIN=$STATE/bin
DIR=$STATE/try-containerd
die() { echo "try-containerd: $*" >&2; exit 1; }
for b in containerd ctr containerd-shim-runc-v2 crictl pause-image.tar; do
  [[ -e "$BIN/$b" ]] || die "$BIN/$b missing: run make lab-upstream first"; done
command -v runc >/dev/null || die "no runc on PATH: apt-get install runc"
[[ $(id -u) == 0 ]] || die "needs root (containerd, overlay mounts)"
IMAGE=$(tar -xOf "$BIN/pause-image.tar" manifest.json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["RepoTags"][0])')

rm -rf "$DIR"; mkdir -p "$DIR/cni"
SOCK=$DIR/containerd.sock
cat >"$DIR/config.toml" <<EOF
version = 3
root = "$DIR/root"
state = "$DIR/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "$IMAGE"
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["/usr/lib/cni"]
  conf_dir = "$DIR/cni"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = false
[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
[plugins.'io.containerd.internal.v1.opt']
  path = "$DIR/opt"
EOF

PATH="$BIN:$PATH" "$BIN/containerd" --config "$DIR/config.toml" >"$DIR/containerd.log" 2>&1 &
CPID=$!
cleanup() {
  "$BIN/ctr" -a "$SOCK" -n k8s.io task kill -s KILL try-pause >/dev/null 2>&1 || true
  "$BIN/ctr" -a "$SOCK" -n k8s.io containers rm try-pause >/dev/null 2>&1 || true
  kill "$CPID" 2>/dev/null || true; wait "$CPID" 2>/dev/null || true
  umount -R "$DIR/root" "$DIR/state" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 30); do [[ -S "$SOCK" ]] && break; kill -0 "$CPID" || { tail "$DIR/containerd.log"; die "containerd exited"; }; sleep 0.5; done
[[ -S "$SOCK" ]] || die "containerd's socket $SOCK did not appear (log: $DIR/containerd.log)"
ctr() { "$BIN/ctr" -a "$SOCK" -n k8s.io "$@"; }

echo "== ctr version"; ctr version
echo "== import $BIN/pause-image.tar"
ctr images import --all-platforms --digests --label io.cri-containerd.pinned=pinned "$BIN/pause-image.tar"
ctr images ls
echo "== run $IMAGE (/pause -v) with runc $(runc --version | head -1 | awk '{print $3}')"
ctr run --rm --runtime io.containerd.runc.v2 "$IMAGE" try-pause /pause -v
echo "== crictl"
"$BIN/crictl" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" version
"$BIN/crictl" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" images
"$BIN/crictl" --runtime-endpoint "unix://$SOCK" info -o go-template --template '{{json .status.conditions}}' 2>/dev/null || \
  "$BIN/crictl" --runtime-endpoint "unix://$SOCK" info | head -40
grep -iE "level=(error|fatal)" "$DIR/containerd.log" | head -10 || true
echo "try-containerd: ok"
