#!/usr/bin/env bash
# A real Kubernetes control plane with fake nodes, all on 127.0.0.1, from the binaries lab/upstream/build.sh
# built: etcd (TLS both ways), kube-apiserver, kube-controller-manager (its disruption controller computes PDB
# status; its serviceaccount, replicaset, deployment and node-lifecycle controllers run as in a cluster),
# kube-scheduler, and KWOK running N fake nodes (Leases renewed, pods go Running, deleted pods go away). For
# tests that need the real API's behaviour (eviction and PodDisruptionBudgets, drain, scheduling) without a
# kubelet or containers.
#
#   lab/upstream/kwok-cluster.sh start [--nodes N] [--dir DIR]
#       start everything (ports chosen free at start, checked with ss), wait until each part answers and the N
#       nodes are Ready, print KUBECONFIG=DIR/admin.kubeconfig (0600). DIR: a new directory, default a fresh
#       mktemp -d under ${TMPDIR:-/tmp}. Files there: admin.kubeconfig, env (ports, pids), pids, <part>.log.
#       On a failure it stops what it started, keeps DIR (logs) and says which part did not come up.
#   lab/upstream/kwok-cluster.sh stop DIR
#       end the processes DIR/pids names (only those: each pid is checked to still be that binary), KWOK and
#       the control plane first, etcd last. DIR stays (logs); remove it yourself.
#
# Binaries: $UPSTREAM_STATE/bin (default ~/.cache/blackstart/upstream/bin, as build.sh). Missing ones: build
# them with  make lab-upstream UPSTREAM_COMPONENTS="etcd kwok kubernetes". KWOK's Stages come from the pinned
# KWOK module in build.sh's module cache. Nodes: kwok-node-1..N, labelled kubernetes.io/hostname and type=kwok,
# no taint. Waits: KWOK_CLUSTER_TIMEOUT seconds per part (default 180).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${UPSTREAM_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/blackstart/upstream}  # as build.sh
BIN=$STATE/bin
TIMEOUT=${KWOK_CLUSTER_TIMEOUT:-180}
BUILD_CMD='make lab-upstream UPSTREAM_COMPONENTS="etcd kwok kubernetes"'
die() { echo "kwok-cluster: $*" >&2; exit 1; }
say() { echo "kwok-cluster: $*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# ------------------------------------------------------------------------------------------- processes
# DIR/pids: "<name> <pid> <binary's real path>" per line, in start order.
alive() {  # pid exe: that pid still runs that binary (a reused pid or a zombie is not it)
  [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" == "$2" ]]
}
stop_one() {  # name pid exe seconds: TERM, then KILL after that many seconds
  local name=$1 pid=$2 exe=$3 secs=$4
  if ! alive "$pid" "$exe"; then say "$name (pid $pid) had already ended"; return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  local i; for ((i = 0; i < secs * 10; i++)); do alive "$pid" "$exe" || break; sleep 0.1; done
  if alive "$pid" "$exe"; then say "$name (pid $pid) still running after ${secs} s: KILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  say "stopped $name (pid $pid)"
}
stop_dir() {  # dir: reverse start order, etcd last (killed together, the apiserver retries etcd for minutes)
  local dir=$1 lines=() i name pid exe
  [[ -f "$dir/pids" ]] || { say "no $dir/pids: nothing to stop"; return 0; }
  mapfile -t lines <"$dir/pids"
  for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
    read -r name pid exe <<<"${lines[$i]}"
    [[ -n "${pid:-}" ]] || continue
    stop_one "$name" "$pid" "$exe" "$([[ $name == kube-apiserver ]] && echo 30 || echo 10)"
  done
  mv "$dir/pids" "$dir/pids.stopped"
}

# ------------------------------------------------------------------------------------------- start
cmd_start() {
  local nodes=2 dir=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --nodes) nodes=${2:?--nodes needs a count}; shift 2 ;;
      --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
      *) die "start: unknown argument '$1' (--nodes N, --dir DIR)" ;;
    esac
  done
  [[ "$nodes" =~ ^[0-9]+$ ]] || die "--nodes wants a number, not '$nodes'"
  local b missing=()
  for b in etcd etcdctl kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    [[ -x "$BIN/$b" ]] || missing+=("$b"); done
  (( ${#missing[@]} == 0 )) || die "not built: ${missing[*]} (looked in $BIN): build them with  $BUILD_CMD  (cold: about 50 min on 2 cores; a no-op when built)"
  # shellcheck source=versions.env
  source "$HERE/versions.env"
  local stages=$STATE/go-cache/mod/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
  [[ -d "$stages" ]] || die "KWOK $KWOK_VERSION's Stage files are not in $STATE/go-cache (the module cache build.sh fills): $BUILD_CMD"
  command -v ss >/dev/null || die "needs ss (iproute2) to find free ports"
  command -v curl >/dev/null || die "needs curl (health of the controller-manager and scheduler)"
  command -v openssl >/dev/null || die "needs openssl (the cluster's certificates)"

  if [[ -z "$dir" ]]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/blackstart-kwok.XXXXXX")
  else [[ ! -e "$dir" || -z "$(ls -A "$dir")" ]] || die "--dir $dir is not empty (a previous cluster's? stop it: $0 stop $dir)"; mkdir -p "$dir"; fi
  dir=$(cd "$dir" && pwd); chmod 700 "$dir"
  umask 077
  DIR=$dir
  trap 'rc=$?; if (( rc != 0 )); then stop_dir "$DIR" >&2 || true; echo "kwok-cluster: start failed; logs kept in $DIR" >&2; fi' EXIT
  local t_start; t_start=$(now)

  # ---- ports: free now on any address (the other lab on this machine may hold some), below the kernel's
  # ephemeral range (the local ports of outgoing connections, which a listener cannot take)
  local -A taken=()
  local eph_low; eph_low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  local lo=20000 hi=$(( eph_low - 1 )); (( hi > lo + 1000 )) || { lo=10000; hi=$(( eph_low - 1 )); }
  pick() {  # var: a free TCP port
    local p n
    for ((n = 0; n < 500; n++)); do
      p=$(( lo + RANDOM % (hi - lo + 1) ))
      [[ -z "${taken[$p]:-}" ]] || continue
      ss -Htan "sport = :$p" | grep -q . && continue
      taken[$p]=1; printf -v "$1" '%s' "$p"; return 0
    done
    die "found no free TCP port in $lo-$hi (ss -tan)"
  }
  local EPORT PPORT APORT CPORT SPORT
  pick EPORT; pick PPORT; pick APORT; pick CPORT; pick SPORT

  # ---- certificates (openssl, ECDSA P-256: quick on a busy machine): one CA, as the README's recipe
  local P=$dir/pki; mkdir -p "$P" "$dir/etcd" "$dir/kcm" "$dir/scheduler"
  q() { "$@" >/dev/null 2>"$dir/openssl.err" || { cat "$dir/openssl.err" >&2; die "openssl failed: $*"; }; }
  q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" \
    -days 30 -subj /CN=blackstart-kwok-ca -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature
  sign() {  # name subject extensions
    q openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$P/$1.key" -out "$P/$1.csr" -subj "$2"
    printf '%b\n' "$3" >"$P/$1.ext"
    q openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 30 -out "$P/$1.crt" -extfile "$P/$1.ext"
  }
  local client="keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth"
  sign apiserver /CN=kube-apiserver "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign etcd-server /CN=etcd "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost"
  sign apiserver-etcd-client /CN=kube-apiserver-etcd-client "$client"
  sign apiserver-kubelet-client "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client" "$client"
  sign admin "/O=system:masters/CN=blackstart-admin" "$client"
  sign controller-manager /CN=system:kube-controller-manager "$client"
  sign scheduler /CN=system:kube-scheduler "$client"
  # the front proxy's client (kubeadm's front-proxy-client): with it the apiserver publishes the requestheader CA
  # the controller-manager and scheduler read from kube-system/extension-apiserver-authentication
  sign front-proxy-client /CN=front-proxy-client "$client"
  q openssl genrsa -out "$P/sa.key" 2048
  q openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub"
  kubeconfig() {  # file user
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kwok
  cluster: {server: "https://127.0.0.1:$APORT", certificate-authority: "$P/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$P/$2.crt", client-key: "$P/$2.key"}
contexts:
- name: kwok
  context: {cluster: kwok, user: $2}
current-context: kwok
EOF
    chmod 600 "$1"
  }
  kubeconfig "$dir/admin.kubeconfig" admin
  kubeconfig "$dir/controller-manager.kubeconfig" controller-manager
  kubeconfig "$dir/scheduler.kubeconfig" scheduler
  local KC=$dir/admin.kubeconfig
  k() { "$BIN/kubectl" --kubeconfig "$KC" --request-timeout 10s "$@"; }

  run() {  # name args...: start $BIN/name in the background, log to DIR/name.log, record its pid
    local name=$1; shift
    "$BIN/$name" "$@" </dev/null >"$dir/$name.log" 2>&1 &
    local pid=$! exe; exe=$(readlink -f "$BIN/$name")
    echo "$name $pid $exe" >>"$dir/pids"
    # until the forked shell has exec'd the binary, /proc/PID/exe is bash: check_running would call it exited
    local i; for ((i = 0; i < 100; i++)); do alive "$pid" "$exe" && return 0; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    alive "$pid" "$exe" || { tail -25 "$dir/$name.log" >&2; die "$name did not start (log: $dir/$name.log)"; }
  }
  check_running() {  # every started process still runs, else its log's tail and a die
    local name pid exe
    while read -r name pid exe; do
      alive "$pid" "$exe" || { tail -25 "$dir/$name.log" >&2; die "$name exited (log: $dir/$name.log, its tail above)"; }
    done <"$dir/pids"
  }
  wait_for() {  # what command...: poll once a second up to TIMEOUT, checking that nothing exited
    local what=$1 t0 i; shift; t0=$(now)
    for ((i = 0; i < TIMEOUT; i++)); do
      check_running
      if "$@" >/dev/null 2>&1; then say "$what after $(elapsed "$t0") s"; return 0; fi
      sleep 1
    done
    "$@" >&2 || true
    die "$what: not after ${TIMEOUT} s (KWOK_CLUSTER_TIMEOUT); the last answer is above, logs in $dir"
  }

  # ---- etcd: one member, client and peer TLS with client-certificate auth
  run etcd --name kwok --data-dir "$dir/etcd" \
    --listen-client-urls "https://127.0.0.1:$EPORT" --advertise-client-urls "https://127.0.0.1:$EPORT" \
    --listen-peer-urls "https://127.0.0.1:$PPORT" --initial-advertise-peer-urls "https://127.0.0.1:$PPORT" \
    --initial-cluster "kwok=https://127.0.0.1:$PPORT" --initial-cluster-state new \
    --cert-file "$P/etcd-server.crt" --key-file "$P/etcd-server.key" --client-cert-auth --trusted-ca-file "$P/ca.crt" \
    --peer-cert-file "$P/etcd-server.crt" --peer-key-file "$P/etcd-server.key" --peer-client-cert-auth \
    --peer-trusted-ca-file "$P/ca.crt"
  wait_for "etcd healthy on 127.0.0.1:$EPORT" "$BIN/etcdctl" --endpoints "https://127.0.0.1:$EPORT" --cacert "$P/ca.crt" \
    --cert "$P/apiserver-etcd-client.crt" --key "$P/apiserver-etcd-client.key" --command-timeout=5s endpoint health

  # ---- kube-apiserver (the README's recipe)
  run kube-apiserver \
    --etcd-servers="https://127.0.0.1:$EPORT" \
    --etcd-cafile="$P/ca.crt" --etcd-certfile="$P/apiserver-etcd-client.crt" --etcd-keyfile="$P/apiserver-etcd-client.key" \
    --bind-address=127.0.0.1 --secure-port="$APORT" --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none --cert-dir="$dir/pki" \
    --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" --client-ca-file="$P/ca.crt" \
    --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
    --service-cluster-ip-range=10.96.0.0/12 \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
    --proxy-client-cert-file="$P/front-proxy-client.crt" --proxy-client-key-file="$P/front-proxy-client.key" \
    --requestheader-client-ca-file="$P/ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra-
  wait_for "kube-apiserver /readyz ok on 127.0.0.1:$APORT" k get --raw /readyz

  # ---- kube-controller-manager and kube-scheduler, each with its own identity, as kubeadm runs them
  local CKC=$dir/controller-manager.kubeconfig SKC=$dir/scheduler.kubeconfig
  run kube-controller-manager \
    --kubeconfig="$CKC" --authentication-kubeconfig="$CKC" --authorization-kubeconfig="$CKC" \
    --bind-address=127.0.0.1 --secure-port="$CPORT" --cert-dir="$dir/kcm" --leader-elect=false \
    --use-service-account-credentials=true --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
    --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" --client-ca-file="$P/ca.crt"
  run kube-scheduler \
    --kubeconfig="$SKC" --authentication-kubeconfig="$SKC" --authorization-kubeconfig="$SKC" \
    --bind-address=127.0.0.1 --secure-port="$SPORT" --cert-dir="$dir/scheduler" --leader-elect=false
  wait_for "kube-controller-manager /healthz ok on 127.0.0.1:$CPORT" curl -fsk --max-time 5 "https://127.0.0.1:$CPORT/healthz"
  wait_for "kube-scheduler /readyz ok on 127.0.0.1:$SPORT" curl -fsk --max-time 5 "https://127.0.0.1:$SPORT/readyz"
  # the serviceaccount controller makes default/default; until then no pod can be created in that namespace
  wait_for "the controller-manager's serviceaccount controller made default/default" k -n default get serviceaccount default

  # ---- KWOK: the Stages of the pinned module (fast node initialize, heartbeat with Lease, the general pod set)
  local f
  for f in "$stages"/node/fast/node-initialize.yaml "$stages"/node/heartbeat-with-lease/*.yaml "$stages"/pod/general/pod-*.yaml; do
    echo "---"; cat "$f"; done >"$dir/kwok-stages.yaml"
  run kwok --kubeconfig "$KC" --config "$dir/kwok-stages.yaml" --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake --node-lease-duration-seconds=40
  local i
  for ((i = 1; i <= nodes; i++)); do
    printf -- '---\napiVersion: v1\nkind: Node\nmetadata:\n  name: kwok-node-%s\n  annotations: {kwok.x-k8s.io/node: fake}\n  labels: {type: kwok, kubernetes.io/hostname: kwok-node-%s, kubernetes.io/os: linux}\n' "$i" "$i"
  done >"$dir/nodes.yaml"
  (( nodes == 0 )) || k apply -f "$dir/nodes.yaml" >/dev/null || die "could not create the $nodes nodes (kubectl apply -f $dir/nodes.yaml)"
  nodes_ready() {
    local ready leases
    ready=$(k get nodes -l type=kwok --no-headers | awk '$2 == "Ready"' | wc -l)
    leases=$(k -n kube-node-lease get leases --no-headers | grep -c '^kwok-node-' || true)
    (( ready == nodes && leases == nodes )) || { echo "$ready of $nodes KWOK nodes Ready, $leases Leases"; k get nodes; return 1; }
  }
  wait_for "$nodes KWOK nodes Ready with Leases" nodes_ready

  {
    echo "KUBECONFIG=$KC"; echo "KWOK_CLUSTER_DIR=$dir"
    echo "ETCD_PORT=$EPORT"; echo "APISERVER_PORT=$APORT"; echo "CONTROLLER_MANAGER_PORT=$CPORT"; echo "SCHEDULER_PORT=$SPORT"
    echo "KUBECTL=$BIN/kubectl"
  } >"$dir/env"
  say "up in $(elapsed "$t_start") s ($nodes nodes; stop with: $0 stop $dir)"
  echo "KUBECONFIG=$KC"
  trap - EXIT
}

main() {
  local cmd=${1:-}; [[ $# -gt 0 ]] && shift
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) [[ $# -eq 1 && -d "$1" ]] || die "stop needs the directory start made (it holds pids)"; stop_dir "$1" ;;
    -h|--help|help) sed -n '2,22p' "$0" ;;
    *) die "usage: $0 start [--nodes N] [--dir DIR] | stop DIR" ;;
  esac
}

main "$@"; exit $?
