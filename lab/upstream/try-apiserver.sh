#!/usr/bin/env bash
# Issue 9, step 1.5: a look at the built control plane - the built kube-apiserver on the built etcd (TLS) on
# 127.0.0.1, with the controller-manager, the scheduler and optionally KWOK nodes, no lab. The cluster itself is
# kwok-cluster.sh's (one recipe for both); this prints what a person wants to see of it.
#
#   lab/upstream/try-apiserver.sh [--keep] [--kwok N]
#     start it, print /readyz?verbose, `kubectl version` (the project's kubectl, .venv/bin/kubectl), /livez and
#     etcd's endpoint status (what the collection's etcd gate reads), then stop it (--keep: leave it running).
#     --kwok N: N fake nodes (default 0), Ready with Leases before it returns.
# Ports: chosen free at start by kwok-cluster.sh. State: a fresh directory under ${TMPDIR:-/tmp}, named at the end.
set -euo pipefail
die() { echo "try-apiserver: $*" >&2; exit 1; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${UPSTREAM_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/blackstart/upstream}  # as build.sh
KUBECTL=${KUBECTL:-$ROOT/.venv/bin/kubectl}
KEEP=0 KWOK_NODES=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep) KEEP=1; shift ;;
    --kwok) KWOK_NODES=${2:?--kwok needs a node count}; shift 2 ;;
    *) die "unknown argument '$1' (--keep, --kwok N)" ;;
  esac
done
[[ -x "$KUBECTL" ]] || die "$KUBECTL missing: create the project venv (make venv) or set KUBECTL"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/blackstart-try.XXXXXX")
t0=$(date +%s.%N)
"$HERE/kwok-cluster.sh" start --nodes "$KWOK_NODES" --dir "$DIR" >/dev/null
(( KEEP )) || trap '"$HERE/kwok-cluster.sh" stop "$DIR" >/dev/null; rm -rf "$DIR"' EXIT
echo "try-apiserver: up, $KWOK_NODES KWOK nodes Ready with Leases, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s after start"
ETCD_PORT=$(sed -n 's/^ETCD_PORT=//p' "$DIR/env")

k() { "$KUBECTL" --kubeconfig "$DIR/admin.kubeconfig" "$@"; }
k get --raw '/readyz?verbose'
echo; k version
k get --raw '/livez?verbose' | tail -1
k get namespaces
echo "== etcdctl endpoint status (what the collection's etcd gate reads)"
"$STATE/bin/etcdctl" --endpoints "https://127.0.0.1:$ETCD_PORT" --cacert "$DIR/pki/ca.crt" \
  --cert "$DIR/pki/apiserver-etcd-client.crt" --key "$DIR/pki/apiserver-etcd-client.key" endpoint status -w table
(( KWOK_NODES == 0 )) || k get nodes -o wide | head -4
(( KEEP )) && echo "try-apiserver: left running (stop: lab/upstream/kwok-cluster.sh stop $DIR; kubeconfig $DIR/admin.kubeconfig)"
exit 0
