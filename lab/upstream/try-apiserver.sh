#!/usr/bin/env bash
# Issue 9, step 1.5: the built kube-apiserver against the built etcd on 127.0.0.1, no lab, certificates
# from openssl, checked with the project's kubectl (.venv/bin/kubectl). The recipe the lab's hosts use.
#
#   lab/upstream/try-apiserver.sh [--keep] [--kwok N]
#     start both, wait for /readyz, print /readyz?verbose, `kubectl version` and etcd's endpoint status, then
#     stop both (--keep: leave them running). --kwok N: also run the built KWOK with N fake nodes (Stages
#     node-initialize, node-heartbeat-with-lease and the pod "general" set, from the pinned KWOK module) and
#     wait until all N are Ready with a Lease.
# Ports: UPSTREAM_TRY_ETCD_PORT (default 23790; peer = +1), UPSTREAM_TRY_APISERVER_PORT (default 26443), so it
# never meets a lab etcd/apiserver on the standard ports. State: $UPSTREAM_STATE/try/ (made anew each run;
# UPSTREAM_STATE defaults to ~/.cache/blackstart/upstream, as in build.sh).
set -euo pipefail
die() { echo "try-apiserver: $*" >&2; exit 1; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${UPSTREAM_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/blackstart/upstream}  # as build.sh
BIN=$STATE/bin
DIR=$STATE/try
KUBECTL=${KUBECTL:-$ROOT/.venv/bin/kubectl}
EPORT=${UPSTREAM_TRY_ETCD_PORT:-23790}
APORT=${UPSTREAM_TRY_APISERVER_PORT:-26443}
KEEP=0 KWOK_NODES=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep) KEEP=1; shift ;;
    --kwok) KWOK_NODES=${2:?--kwok needs a node count}; shift 2 ;;
    *) die "unknown argument '$1' (--keep, --kwok N)" ;;
  esac
done

for b in etcd kube-apiserver; do
  [[ -x "$BIN/$b" ]] || die "$BIN/$b missing: run make lab-upstream first"; done
[[ -x "$KUBECTL" ]] || die "$KUBECTL missing: create the project venv (make venv) or set KUBECTL"
for p in "$EPORT" "$((EPORT + 1))" "$APORT"; do
  ss -Hltn "sport = :$p" | grep -q . && die "port $p on 127.0.0.1 is taken: set UPSTREAM_TRY_ETCD_PORT / UPSTREAM_TRY_APISERVER_PORT"; done

rm -rf "$DIR"; mkdir -p "$DIR/pki" "$DIR/etcd"; cd "$DIR/pki"

# ---- certificates (openssl only): a CA, the apiserver's serving cert, an admin client cert, the SA key pair
q() { "$@" 2>/dev/null >/dev/null || { "$@"; die "openssl failed: $*"; }; }
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=blackstart-lab-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature
sign() {  # name subject extensions
  q openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
  printf '%b\n' "$3" >"$1.ext"
  q openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -out "$1.crt" -extfile "$1.ext"
}
sign apiserver /CN=kube-apiserver "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=blackstart-admin" "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth"
# etcd over TLS both ways, as the lab's etcd runs (kubeadm gives etcd its own CA; one CA is enough here)
sign etcd-server /CN=try "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost"
sign apiserver-etcd-client /CN=kube-apiserver-etcd-client "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth"
sign apiserver-kubelet-client "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client" "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth"
q openssl genrsa -out sa.key 2048
q openssl rsa -in sa.key -pubout -out sa.pub

cat >"$DIR/admin.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: try
  cluster: {server: "https://127.0.0.1:$APORT", certificate-authority: "$DIR/pki/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$DIR/pki/admin.crt", client-key: "$DIR/pki/admin.key"}
contexts:
- name: try
  context: {cluster: try, user: admin}
current-context: try
EOF

# ---- etcd: one member on loopback, client and peer TLS with client-certificate auth
P=$DIR/pki
"$BIN/etcd" --name try --data-dir "$DIR/etcd" \
  --listen-client-urls "https://127.0.0.1:$EPORT" --advertise-client-urls "https://127.0.0.1:$EPORT" \
  --listen-peer-urls "https://127.0.0.1:$((EPORT + 1))" --initial-advertise-peer-urls "https://127.0.0.1:$((EPORT + 1))" \
  --initial-cluster "try=https://127.0.0.1:$((EPORT + 1))" --initial-cluster-state new \
  --cert-file "$P/etcd-server.crt" --key-file "$P/etcd-server.key" --client-cert-auth --trusted-ca-file "$P/ca.crt" \
  --peer-cert-file "$P/etcd-server.crt" --peer-key-file "$P/etcd-server.key" --peer-client-cert-auth --peer-trusted-ca-file "$P/ca.crt" \
  >"$DIR/etcd.log" 2>&1 &
EPID=$!

# ---- kube-apiserver
"$BIN/kube-apiserver" \
  --etcd-servers="https://127.0.0.1:$EPORT" \
  --etcd-cafile="$P/ca.crt" --etcd-certfile="$P/apiserver-etcd-client.crt" --etcd-keyfile="$P/apiserver-etcd-client.key" \
  --bind-address=127.0.0.1 --secure-port="$APORT" --advertise-address=127.0.0.1 \
  --endpoint-reconciler-type=none \
  --tls-cert-file="$DIR/pki/apiserver.crt" --tls-private-key-file="$DIR/pki/apiserver.key" \
  --client-ca-file="$DIR/pki/ca.crt" \
  --kubelet-client-certificate="$DIR/pki/apiserver-kubelet-client.crt" --kubelet-client-key="$DIR/pki/apiserver-kubelet-client.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$DIR/pki/sa.pub" --service-account-signing-key-file="$DIR/pki/sa.key" \
  --service-cluster-ip-range=10.96.0.0/12 \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --allow-privileged=true \
  >"$DIR/apiserver.log" 2>&1 &
APID=$!
echo "$EPID $APID" >"$DIR/pids"

# the apiserver first, while etcd still answers (killed together, the apiserver retries etcd for minutes)
stop_pid() {  # pid seconds: TERM, then KILL after that many seconds
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 1 $(( $2 * 10 ))); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true
}
KPID=""
stop() { [[ -z "$KPID" ]] || stop_pid "$KPID" 10; stop_pid "$APID" 30; stop_pid "$EPID" 10; }
(( KEEP )) || trap stop EXIT

k() { "$KUBECTL" --kubeconfig "$DIR/admin.kubeconfig" "$@"; }
t0=$(date +%s.%N); ok=0
for _ in $(seq 1 120); do
  kill -0 "$EPID" 2>/dev/null || { tail -20 "$DIR/etcd.log" >&2; die "etcd exited (log: $DIR/etcd.log)"; }
  kill -0 "$APID" 2>/dev/null || { tail -30 "$DIR/apiserver.log" >&2; die "kube-apiserver exited (log: $DIR/apiserver.log)"; }
  if k get --raw /readyz >/dev/null 2>&1; then ok=1; break; fi
  sleep 1
done
(( ok )) || { tail -30 "$DIR/apiserver.log" >&2; k get --raw '/readyz?verbose' >&2 || true; die "kube-apiserver not ready after 120 s (log: $DIR/apiserver.log)"; }
echo "try-apiserver: /readyz ok $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s after start"
k get --raw '/readyz?verbose'
echo; k version
k get --raw '/livez?verbose' | tail -1
k get namespaces
echo "== etcdctl endpoint status (what the collection's etcd gate reads)"
"$BIN/etcdctl" --endpoints "https://127.0.0.1:$EPORT" --cacert "$P/ca.crt" --cert "$P/apiserver-etcd-client.crt" \
  --key "$P/apiserver-etcd-client.key" endpoint status -w table
if (( KWOK_NODES > 0 )); then
  source "$HERE/versions.env"
  KM=$STATE/go-cache/mod/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
  [[ -x "$BIN/kwok" && -d "$KM" ]] || die "kwok $KWOK_VERSION not built (or its module not in $STATE/go-cache): make lab-upstream"
  for f in "$KM"/node/fast/node-initialize.yaml "$KM"/node/heartbeat-with-lease/*.yaml "$KM"/pod/general/pod-*.yaml; do
    echo "---"; cat "$f"; done >"$DIR/kwok-stages.yaml"
  "$BIN/kwok" --kubeconfig "$DIR/admin.kubeconfig" --config "$DIR/kwok-stages.yaml" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake --node-lease-duration-seconds=40 >"$DIR/kwok.log" 2>&1 &
  KPID=$!; echo "$EPID $APID $KPID" >"$DIR/pids"
  t0=$(date +%s.%N)
  for i in $(seq 1 "$KWOK_NODES"); do
    printf -- '---\napiVersion: v1\nkind: Node\nmetadata:\n  name: kwok-node-%s\n  annotations: {kwok.x-k8s.io/node: fake}\n  labels: {type: kwok}\nspec:\n  taints: [{key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule}]\n' "$i"
  done | k apply -f - >/dev/null
  for _ in $(seq 1 180); do
    ready=$(k get nodes -l type=kwok --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l)
    (( ready == KWOK_NODES )) && break; sleep 1
  done
  leases=$(k -n kube-node-lease get leases --no-headers 2>/dev/null | grep -c '^kwok-node-' || true)
  echo "try-apiserver: kwok: $ready/$KWOK_NODES nodes Ready, $leases Leases, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s after creating them"
  k get nodes -o wide | head -4
  (( ready == KWOK_NODES )) || die "not every KWOK node became Ready (log: $DIR/kwok.log)"
fi
(( KEEP )) && echo "try-apiserver: left running (pids in $DIR/pids; kubeconfig $DIR/admin.kubeconfig)"
exit 0
