#!/usr/bin/env bash
# Issue 9, step 1.5: the built kube-apiserver against the built etcd on 127.0.0.1, no lab, certificates
# from openssl, checked with the project's kubectl (.venv/bin/kubectl). The recipe the lab's hosts use.
#
#   lab/upstream/try-apiserver.sh [--keep]   start both, wait for /readyz, print /readyz?verbose and
#                                            `kubectl version`, then stop both (--keep: leave them running)
# Ports: UPSTREAM_TRY_ETCD_PORT (default 23790; peer = +1), UPSTREAM_TRY_APISERVER_PORT (default 26443), so it
# never meets a lab etcd/apiserver on the standard ports. State: lab/.state/upstream/try/ (made anew each run).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${UPSTREAM_STATE:-$ROOT/lab/.state/upstream}
BIN=$STATE/bin
DIR=$STATE/try
KUBECTL=${KUBECTL:-$ROOT/.venv/bin/kubectl}
EPORT=${UPSTREAM_TRY_ETCD_PORT:-23790}
APORT=${UPSTREAM_TRY_APISERVER_PORT:-26443}
KEEP=0; [[ "${1:-}" == --keep ]] && KEEP=1
die() { echo "try-apiserver: $*" >&2; exit 1; }

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

# ---- etcd: one member on loopback (plain http on loopback; the lab's etcd uses its TLS certs instead)
"$BIN/etcd" --name try --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$EPORT" --advertise-client-urls "http://127.0.0.1:$EPORT" \
  --listen-peer-urls "http://127.0.0.1:$((EPORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((EPORT + 1))" \
  --initial-cluster "try=http://127.0.0.1:$((EPORT + 1))" --initial-cluster-state new \
  --listen-metrics-urls "" >"$DIR/etcd.log" 2>&1 &
EPID=$!

# ---- kube-apiserver
"$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$EPORT" \
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
stop() { stop_pid "$APID" 30; stop_pid "$EPID" 10; }
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
(( KEEP )) && echo "try-apiserver: left running (pids $EPID $APID; kubeconfig $DIR/admin.kubeconfig)"
exit 0
