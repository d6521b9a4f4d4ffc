#!/usr/bin/env bash
# Issue 9, step 1: prove the built containerd 2.x + shim + crictl with Debian's runc on this host, and
# that the locally built pause image imports as kubeadm names it. No lab, no network: a private
# containerd (own root, state and socket under $UPSTREAM_STATE/try-containerd, default
# ~/.cache/blackstart/upstream as in build.sh), stopped at the end.
#
#   lab/upstream/try-containerd.sh            with the built runc ($UPSTREAM_STATE/bin/runc)
#   TRY_RUNC=/usr/sbin/runc lab/upstream/try-containerd.sh   with Debian's runc 1.1.5 (its CRI sandbox fails)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${UPSTREAM_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/blackstart/upstream}  # as build.sh
BIN=$STATE/bin
DIR=$STATE/try-containerd
die() { echo "try-containerd: $*" >&2; exit 1; }
for b in containerd ctr containerd-shim-runc-v2 runc crictl pause-image.tar; do
  [[ -e "$BIN/$b" ]] || die "$BIN/$b missing: run make lab-upstream first"; done
RUNC=${TRY_RUNC:-$BIN/runc}
[[ -x "$RUNC" ]] || die "no runc at $RUNC"
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
  BinaryName = "$RUNC"
# this machine gives root no CAP_SYS_RESOURCE: the CRI's -998 for the sandbox (and -997 for Guaranteed pods)
# fails in runc with "failed to update /proc/self/oom_score_adj: Permission denied"; clamp to containerd's own
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
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
  ip link del cni-try0 2>/dev/null || true
  # the empty v1 cgroups containerd made for its k8s.io namespace (rmdir refuses a cgroup in use)
  rmdir /sys/fs/cgroup/*/k8s.io/* /sys/fs/cgroup/*/k8s.io 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 30); do [[ -S "$SOCK" ]] && break; kill -0 "$CPID" || { tail "$DIR/containerd.log"; die "containerd exited"; }; sleep 0.5; done
[[ -S "$SOCK" ]] || die "containerd's socket $SOCK did not appear (log: $DIR/containerd.log)"
ctr() { "$BIN/ctr" -a "$SOCK" -n k8s.io "$@"; }

echo "== ctr version"; ctr version
echo "== import $BIN/pause-image.tar"
ctr images import --all-platforms --label io.cri-containerd.pinned=pinned "$BIN/pause-image.tar"
ctr images ls
echo "== run $IMAGE (/pause -v) with $RUNC $("$RUNC" --version | head -1 | awk '{print $3}')"
ctr run --rm --runtime io.containerd.runc.v2 "$IMAGE" try-pause-v /pause -v
echo "== run it detached (the sandbox's life: /pause as uid 65535), read its cgroup metrics, stop it"
ctr run -d --runtime io.containerd.runc.v2 "$IMAGE" try-pause
sleep 1; ctr task ls
# on this host the shim cannot load a v1 cgroup: /proc/<pid>/cgroup names perf_event, net_cls,net_prio and
# hugetlb, which are not mounted as v1 hierarchies ("cgroups: cannot find cgroup mount destination")
ctr task metrics try-pause 2>&1 | head -8 || true
ctr task kill -s TERM try-pause; sleep 1; ctr task ls; ctr task rm try-pause >/dev/null 2>&1 || true; ctr containers rm try-pause
echo "== crictl"
"$BIN/crictl" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" version
"$BIN/crictl" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" images
"$BIN/crictl" --runtime-endpoint "unix://$SOCK" info -o go-template --template '{{json .status.conditions}}' 2>/dev/null || \
  "$BIN/crictl" --runtime-endpoint "unix://$SOCK" info | head -40
echo "== a CRI pod sandbox: the pause image as sandbox, Debian's CNI plugins (bridge, host-local, loopback)"
# own bridge and subnet, no masquerade, no port maps: nothing outside this host's loopback is touched
cat >"$DIR/cni/10-try.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "try", "plugins": [{"type": "bridge", "bridge": "cni-try0", "isGateway": true,
 "ipMasq": false, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.254.254.0/24"}]], "dataDir": "$DIR/ipam"}}]}
EOF
cat >"$DIR/sandbox.json" <<EOF
{"metadata": {"name": "try", "namespace": "default", "uid": "try-uid", "attempt": 0}, "log_directory": "$DIR/logs", "linux": {}}
EOF
cri() { "$BIN/crictl" --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" "$@" 2>&1 | grep -v 'level=warning msg="Config'; }
sleep 1  # the CRI plugin reloads its CNI config on a change
POD=$(cri runp "$DIR/sandbox.json" | tail -1) || true
[[ "$POD" =~ ^[0-9a-f]{64}$ ]] || { ip link del cni-try0 2>/dev/null || true; die "crictl runp failed: $POD"; }
cri pods
cri inspectp "$POD" | grep -E '"(state|ip)"' | head -3
cri stopp "$POD" >/dev/null; cri rmp "$POD" >/dev/null
ip link del cni-try0 2>/dev/null || true
grep -iE "level=(error|fatal)" "$DIR/containerd.log" | head -10 || true
echo "try-containerd: ok"
