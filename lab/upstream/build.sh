#!/usr/bin/env bash
# Build the lab's upstream binaries (issue 9, step 1) from the Go module proxy, pinned by
# lab/upstream/versions.env, cached outside the work tree (so every clone on this machine shares it), rebuilt
# only when a pin or a build input changes.
#
#   lab/upstream/build.sh [all|COMPONENT...]   build what is missing or stale (idempotent; default: all)
#   lab/upstream/build.sh check [COMPONENT...]  run every binary's version command against its pin
#   lab/upstream/build.sh regen COMPONENT...    rewrite the wrapper module(s) under lab/upstream/modules
#   lab/upstream/build.sh list                  components, pins and output directories
#   lab/upstream/build.sh prune                 remove builds of versions no longer pinned (caches stay)
#
# Components: kubernetes etcd containerd runc crictl pause kwok coredns
# Output: $UPSTREAM_STATE/<component>-<version>/<binaries> (+ .stamp, build.log),
#         $UPSTREAM_STATE/bin/<binary> -> the pinned build (what the lab uses).
# Environment: UPSTREAM_STATE (default ${XDG_CACHE_HOME:-$HOME/.cache}/blackstart/upstream: outside any work
#   tree, so a fresh clone on the same machine, as CI makes, finds the builds and Go caches warm),
#   UPSTREAM_GO_JOBS (go build -p, default 1),
#   UPSTREAM_NICE (default 15), UPSTREAM_OFFLINE=1 (GOPROXY=off and no wrapper regeneration: fail, not fetch).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${UPSTREAM_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/blackstart/upstream}
JOBS=${UPSTREAM_GO_JOBS:-1}
NICE=(nice -n "${UPSTREAM_NICE:-15}")
ALL_COMPONENTS=(kubernetes etcd containerd runc crictl pause kwok coredns)
REGEN_TMP=()
trap 'rm -rf "${REGEN_TMP[@]}"' EXIT

die() { echo "lab/upstream: $*" >&2; exit 1; }
say() { echo "lab/upstream: $*"; }

# shellcheck source=versions.env
source "$HERE/versions.env"

command -v go >/dev/null || die "no 'go' on PATH: install Go >= 1.26 (the machine's own Go; Debian's golang-go 1.19 is too old)"
export GOMODCACHE="$STATE/go-cache/mod" GOCACHE="$STATE/go-cache/build"
export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -p=$JOBS" GOWORK=off
[[ "${UPSTREAM_OFFLINE:-0}" == 1 ]] && export GOPROXY=off
GO_VERSION=$(go env GOVERSION)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
sha() { sha256sum | cut -c1-64; }

# ---------------------------------------------------------------- components
# Each component sets: MODS (module@version the wrapper requires), BINS ("name=package" pairs),
# TAGS, LDFLAGS, CGO, VERSION (the pin, for the output directory), WANT (what --version must print).
component() {
  local c=$1
  MODS=() BINS=() TAGS="" LDFLAGS="-s -w" CGO=0 STAGING=0 BUILDMODE=""
  case "$c" in
    kubernetes)
      VERSION=$KUBERNETES_VERSION
      local mm=${VERSION#v}; local major=${mm%%.*} minor=${mm#*.}; minor=${minor%%.*}
      MODS=("k8s.io/kubernetes@$VERSION"); STAGING=1
      local b; for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubeadm kubectl; do
        BINS+=("$b=k8s.io/kubernetes/cmd/$b"); done
      # as hack/lib/golang.sh builds release binaries: static, these tags, version stamped into both
      # version packages; buildDate is the module's own time (reproducible, not the build's).
      TAGS="selinux,notest,grpcnotrace"
      local date; date=$(module_time "k8s.io/kubernetes" "$VERSION")
      local p; for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
        LDFLAGS+=" -X $p.gitVersion=$VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
        LDFLAGS+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"; done
      WANT=${VERSION#v} ;;
    etcd)
      VERSION=$ETCD_VERSION
      MODS=("go.etcd.io/etcd/server/v3@$VERSION" "go.etcd.io/etcd/etcdctl/v3@$VERSION" "go.etcd.io/etcd/etcdutl/v3@$VERSION")
      BINS=("etcd=go.etcd.io/etcd/server/v3" "etcdctl=go.etcd.io/etcd/etcdctl/v3" "etcdutl=go.etcd.io/etcd/etcdutl/v3")
      WANT=${VERSION#v} ;;
    containerd)
      VERSION=$CONTAINERD_VERSION
      MODS=("github.com/containerd/containerd/v2@$VERSION")
      BINS=("containerd=github.com/containerd/containerd/v2/cmd/containerd"
            "ctr=github.com/containerd/containerd/v2/cmd/ctr"
            "containerd-shim-runc-v2=github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2")
      # upstream's Makefile tags; no_btrfs: the btrfs snapshotter needs cgo and libbtrfs (not used here)
      TAGS="urfave_cli_no_docs,no_btrfs"
      local p=github.com/containerd/containerd/v2/version
      LDFLAGS+=" -X $p.Version=$VERSION -X $p.Package=github.com/containerd/containerd/v2"
      WANT=${VERSION#v} ;;
    runc)
      # the runc containerd 2.4 is tested with (Debian's is 1.1.5); as runc's Makefile `static` target:
      # cgo (libcontainer/nsenter), libseccomp linked in, static PIE; without the libpathrs tag (a Rust
      # library with a C API that Debian 12 does not package)
      VERSION=$RUNC_VERSION
      MODS=("github.com/opencontainers/runc@$VERSION")
      BINS=("runc=github.com/opencontainers/runc")
      CGO=1; BUILDMODE=pie
      TAGS="seccomp,urfave_cli_no_docs,netgo,osusergo"
      LDFLAGS+=" -linkmode external -extldflags -static-pie"
      WANT=${VERSION#v} ;;
    crictl)
      VERSION=$CRI_TOOLS_VERSION
      MODS=("sigs.k8s.io/cri-tools@$VERSION")
      BINS=("crictl=sigs.k8s.io/cri-tools/cmd/crictl")
      LDFLAGS+=" -X sigs.k8s.io/cri-tools/pkg/version.Version=${VERSION#v}"
      WANT=${VERSION#v} ;;
    kwok)
      VERSION=$KWOK_VERSION
      MODS=("sigs.k8s.io/kwok@$VERSION")
      BINS=("kwok=sigs.k8s.io/kwok/cmd/kwok")
      LDFLAGS+=" -X sigs.k8s.io/kwok/pkg/consts.Version=$VERSION"
      WANT=${VERSION#v} ;;
    coredns)
      # the cluster DNS kubeadm deploys (registry.k8s.io/coredns/coredns:<ver>); as its Makefile: static
      VERSION=$COREDNS_VERSION
      MODS=("github.com/coredns/coredns@$VERSION")
      BINS=("coredns=github.com/coredns/coredns")
      WANT=${VERSION#v} ;;
    pause)
      # the pause binary and image come from the pinned Kubernetes source (build/pause)
      VERSION=$(pause_version); WANT=$VERSION ;;
    *) die "unknown component '$c' (known: ${ALL_COMPONENTS[*]})" ;;
  esac
  OUT="$STATE/$c-$VERSION"
}

# module_dir MODULE VERSION: the extracted module in the module cache (downloads it when missing)
module_dir() {
  local d="$GOMODCACHE/$(go_escape "$1")@$2"
  if [[ ! -d "$d" ]]; then
    d=$(cd "$HERE" && go mod download -json "$1@$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') ||
      die "could not download $1@$2 from the Go module proxy (GOPROXY=$(go env GOPROXY)): is it served? check the pin in lab/upstream/versions.env"
  fi
  [[ -d "$d" ]] || die "module $1@$2 has no directory in $GOMODCACHE after download"
  echo "$d"
}
# the module cache spells capitals as !lower
go_escape() { sed 's/[A-Z]/!\L&/g' <<<"$1"; }
module_time() {
  local info="$GOMODCACHE/cache/download/$(go_escape "$1")/@v/$2.info"
  [[ -f "$info" ]] || (cd "$HERE" && go mod download -json "$1@$2" >/dev/null) ||
    die "could not fetch $1@$2 metadata from the Go module proxy"
  sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info"
}
pause_version() {
  # cached per Kubernetes pin so the no-op path does not read the module
  local f="$STATE/.pause-version-$KUBERNETES_VERSION"
  if [[ ! -s "$f" ]]; then
    local src; src=$(module_dir k8s.io/kubernetes "$KUBERNETES_VERSION")
    local tag kubeadm
    tag=$(sed -n 's/^TAG ?= *//p' "$src/build/pause/Makefile")
    kubeadm=$(sed -n 's/^\s*PauseVersion = "\(.*\)"/\1/p' "$src/cmd/kubeadm/app/constants/constants.go")
    [[ -n "$tag" ]] || die "no 'TAG ?=' in build/pause/Makefile of k8s.io/kubernetes@$KUBERNETES_VERSION"
    [[ "$tag" == "$kubeadm" ]] || say "note: build/pause TAG $tag differs from kubeadm's PauseVersion $kubeadm; building $kubeadm, the name kubeadm pulls"
    mkdir -p "$STATE"; echo "${kubeadm:-$tag}" >"$f"
  fi
  cat "$f"
}

# ---------------------------------------------------------------- wrapper modules
# lab/upstream/modules/<component>/go.mod requires the pinned module(s) and names the binaries as
# `tool` lines; for k8s.io/kubernetes it adds `replace k8s.io/<staging> => k8s.io/<staging> v0.Y.Z`
# for every staging module that upstream's own go.mod points at ./staging (read from the pinned
# go.mod, so the list follows the minor). go.sum pins every dependency's hash.
wrapper_header() { echo "// Generated by lab/upstream/build.sh regen from versions.env: $1. Do not edit; bump the pin."; }

regen() {
  local c=$1; component "$c"
  [[ "$c" == pause ]] && return 0
  local dir="$HERE/modules/$c" tmp; tmp=$(mktemp -d); REGEN_TMP+=("$tmp")
  local first=${MODS[0]%@*} fver=${MODS[0]#*@}
  local upmod; upmod=$(cd "$HERE" && go mod download -json "$first@$fver" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p') ||
    die "could not fetch the go.mod of $first@$fver from the Go module proxy: is the pin in versions.env served?"
  local goline; goline=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$upmod")
  {
    wrapper_header "${MODS[*]}"
    echo "module blackstart.lab/upstream/$c"; echo; echo "go ${goline:-1.26.0}"; echo
    local m; for m in "${MODS[@]}"; do echo "require ${m%@*} ${m#*@}"; done; echo
    local b; for b in "${BINS[@]}"; do echo "tool ${b#*=}"; done
    if (( STAGING )); then
      local minor="v0.${fver#v1.}"
      echo; echo "// k8s.io/kubernetes points these at ./staging; published as $minor"
      echo "replace ("
      sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$upmod" | sort -u |
        while read -r s; do printf '\t%s => %s %s\n' "$s" "$s" "$minor"; done
      echo ")"
    fi
  } >"$tmp/go.mod"
  if (( STAGING )) && ! grep -q "=> k8s.io/" "$tmp/go.mod"; then
    die "found no './staging' replace lines in $upmod: the layout of k8s.io/kubernetes changed; see lab/upstream/README.md"
  fi
  say "regen $c: go mod tidy (fetches the dependency graph from the Go module proxy)"
  local t0; t0=$(now)
  (cd "$tmp" && "${NICE[@]}" go mod tidy) ||
    die "go mod tidy failed for the $c wrapper ($tmp/go.mod above): a staging module of that minor may not be served yet, or a dependency needs a newer Go"
  mkdir -p "$dir"; cp "$tmp/go.mod" "$tmp/go.sum" "$dir/"
  say "regen $c: wrote lab/upstream/modules/$c/go.mod and go.sum in $(elapsed "$t0") s: commit them"
}

wrapper_current() {
  local c=$1 f="$HERE/modules/$1/go.mod"
  [[ -f "$f" && -f "$HERE/modules/$1/go.sum" ]] && [[ "$(head -1 "$f")" == "$(wrapper_header "${MODS[*]}")" ]]
}

# ---------------------------------------------------------------- build
inputs_hash() {
  local c=$1
  {
    echo "component=$c version=$VERSION go=$GO_VERSION cgo=$CGO tags=$TAGS"
    echo "ldflags=$LDFLAGS"; printf '%s\n' "${BINS[@]}"
    [[ -z "$BUILDMODE" ]] || echo "buildmode=$BUILDMODE $(gcc --version | head -1) $(pkg-config --modversion libseccomp 2>/dev/null)"
    if [[ "$c" == pause ]]; then
      echo "kubernetes=$KUBERNETES_VERSION"; cat "$HERE/pause-image.py"; gcc --version 2>/dev/null | head -1
    else
      cat "$HERE/modules/$c/go.mod" "$HERE/modules/$c/go.sum"
    fi
  } | sha
}

up_to_date() {
  local c=$1 h=$2 b
  [[ -f "$OUT/.stamp" ]] && grep -qx "inputs=$h" "$OUT/.stamp" || return 1
  if [[ "$c" == pause ]]; then [[ -x "$OUT/pause" && -s "$OUT/pause-image.tar" ]] || return 1; fi
  for b in "${BINS[@]}"; do [[ -x "$OUT/${b%%=*}" ]] || return 1; done
}

build_go() {
  local c=$1 tmpout=$2 log=$3 t0 b
  t0=$(now)
  (cd "$HERE/modules/$c" && "${NICE[@]}" go mod download) >>"$log" 2>&1 ||
    { tail -20 "$log" >&2; die "go mod download failed for $c (log: $log): is the Go module proxy reachable?"; }
  echo "download_seconds=$(elapsed "$t0")" >>"$tmpout/.times"
  for b in "${BINS[@]}"; do
    local name=${b%%=*} pkg=${b#*=} tb; tb=$(now)
    say "build $c: $name (go build -p $JOBS, nice; cold takes minutes)"
    (cd "$HERE/modules/$c" && CGO_ENABLED=$CGO "${NICE[@]}" go build -trimpath ${BUILDMODE:+-buildmode=$BUILDMODE} -tags "$TAGS" -ldflags "$LDFLAGS" -o "$tmpout/$name" "$pkg") >>"$log" 2>&1 ||
      { tail -30 "$log" >&2; die "go build of $name ($pkg) failed (log: $log); the error is above"; }
    echo "build_seconds_$name=$(elapsed "$tb")" >>"$tmpout/.times"
  done
}

build_pause() {
  local tmpout=$1 log=$2 src
  command -v gcc >/dev/null && [[ -f /usr/lib/x86_64-linux-gnu/libc.a || -n "$(gcc -print-file-name=libc.a | grep /)" ]] ||
    die "pause needs gcc and a static libc: apt-get install -y gcc libc6-dev"
  src=$(module_dir k8s.io/kubernetes "$KUBERNETES_VERSION")
  local t0; t0=$(now)
  # as build/pause/Makefile: CFLAGS = -Os -Wall -Werror -static -DVERSION=v$(TAG)-$(REV)
  "${NICE[@]}" gcc -Os -Wall -Werror -static -DVERSION="v$VERSION-blackstart" -o "$tmpout/pause" "$src/build/pause/linux/pause.c" >>"$log" 2>&1 ||
    { cat "$log" >&2; die "gcc -static of build/pause/linux/pause.c failed: is libc6-dev installed?"; }
  strip "$tmpout/pause"
  python3 "$HERE/pause-image.py" --binary "$tmpout/pause" --name "registry.k8s.io/pause:$VERSION" \
    --created "$(module_time k8s.io/kubernetes "$KUBERNETES_VERSION")" --out "$tmpout/pause-image.tar" >>"$log" 2>&1 ||
    { cat "$log" >&2; die "writing the pause image tarball failed (log above)"; }
  echo "build_seconds_pause=$(elapsed "$t0")" >>"$tmpout/.times"
}

build() {
  local c=$1; component "$c"
  if [[ "$c" != pause ]] && ! wrapper_current "$c"; then
    [[ "${UPSTREAM_OFFLINE:-0}" == 1 ]] && die "the $c wrapper module does not match versions.env and UPSTREAM_OFFLINE=1: run lab/upstream/build.sh regen $c"
    say "$c: wrapper module does not match the pin ${MODS[*]}: regenerating"
    regen "$c"
  fi
  local h; h=$(inputs_hash "$c")
  if up_to_date "$c" "$h"; then link_bins "$c"; say "$c $VERSION: up to date ($OUT)"; return 0; fi
  say "$c $VERSION: building into $OUT"
  if [[ "$c" == runc ]] && ! pkg-config --exists libseccomp 2>/dev/null; then
    die "runc needs gcc, pkg-config and libseccomp-dev: apt-get install -y gcc pkg-config libseccomp-dev (make lab-upstream-deps)"; fi
  local tmpout="$OUT.tmp.$$" t0; t0=$(now)
  rm -rf "$tmpout"; mkdir -p "$tmpout"
  local log="$tmpout/build.log"
  if [[ "$c" == pause ]]; then build_pause "$tmpout" "$log"; else build_go "$c" "$tmpout" "$log"; fi
  { echo "component=$c"; echo "version=$VERSION"; echo "inputs=$h"; echo "go=$GO_VERSION"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "total_seconds=$(elapsed "$t0")"; cat "$tmpout/.times"; } >"$tmpout/.stamp"
  rm -f "$tmpout/.times"
  rm -rf "$OUT"; mv "$tmpout" "$OUT"
  link_bins "$c"
  say "$c $VERSION: built in $(elapsed "$t0") s"
}

link_bins() {
  local c=$1 b; mkdir -p "$STATE/bin"
  if [[ "$c" == pause ]]; then
    ln -sfn "../$c-$VERSION/pause" "$STATE/bin/pause"; ln -sfn "../$c-$VERSION/pause-image.tar" "$STATE/bin/pause-image.tar"; return
  fi
  for b in "${BINS[@]}"; do ln -sfn "../$c-$VERSION/${b%%=*}" "$STATE/bin/${b%%=*}"; done
}

# ---------------------------------------------------------------- check
version_cmd() {
  case "$1" in
    kubeadm) echo "version -o short" ;; kubectl) echo "version --client" ;;
    etcdctl|etcdutl) echo "version" ;; containerd-shim-runc-v2) echo "-v" ;;
    *) echo "--version" ;;
  esac
}
check() {
  local c=$1 b rc=0; component "$c"
  if [[ "$c" == pause ]]; then
    [[ -x "$OUT/pause" ]] || { echo "pause $VERSION: missing ($OUT/pause): run make lab-upstream"; return 1; }
    printf '%-26s %s\n' "pause" "$(file -b "$OUT/pause" 2>/dev/null | cut -d, -f1-2 || echo binary), image registry.k8s.io/pause:$VERSION ($(du -h "$OUT/pause-image.tar" | cut -f1))"
    return 0
  fi
  for b in "${BINS[@]}"; do
    local name=${b%%=*} out
    if [[ ! -x "$OUT/$name" ]]; then echo "$name: missing ($OUT/$name): run make lab-upstream"; rc=1; continue; fi
    # shellcheck disable=SC2046
    out=$("$OUT/$name" $(version_cmd "$name") 2>&1 | tr '\n' ' ' | sed 's/ *$//') || true
    if grep -q "$WANT" <<<"$out"; then printf '%-26s %s\n' "$name" "$out"
    else echo "$name: version command printed '$out', not the pin $WANT"; rc=1; fi
  done
  return $rc
}

# ---------------------------------------------------------------- main
# in a function, called on the last line: bash then has parsed it all before it runs, so editing this file
# during a build cannot break the build
main() {
local cmd=${1:-all}; [[ $# -gt 0 ]] && shift
local comps c t_all rc
comps=("$@"); [[ ${#comps[@]} -eq 0 || "${comps[0]:-}" == all ]] && comps=("${ALL_COMPONENTS[@]}")
case "$cmd" in
  all|build) ;;
  kubernetes|etcd|containerd|runc|crictl|pause|kwok|coredns) comps=("$cmd" "$@"); cmd=build ;;
  check|regen|list|prune) ;;
  -h|--help|help) sed -n '2,18p' "$0"; exit 0 ;;
  *) die "unknown command '$cmd' (build|check|regen|list, or a component: ${ALL_COMPONENTS[*]})" ;;
esac

mkdir -p "$STATE"
case "$cmd" in
  all|build)
    exec 9>"$STATE/.lock"
    flock -n 9 || { say "another build holds $STATE/.lock: waiting"; flock 9; }
    t_all=$(now)
    for c in "${comps[@]}"; do build "$c"; done
    say "done in $(elapsed "$t_all") s" ;;
  check) rc=0; for c in "${comps[@]}"; do check "$c" || rc=1; done; exit $rc ;;
  regen) for c in "${comps[@]}"; do regen "$c"; done ;;
  list) for c in "${comps[@]}"; do component "$c"; echo "$c $VERSION $OUT"; done ;;
  prune)
    keep=(); for c in "${ALL_COMPONENTS[@]}"; do component "$c"; keep+=("$OUT"); done
    for d in "$STATE"/*-v[0-9]* "$STATE"/pause-[0-9]*; do
      [[ -d "$d" ]] || continue
      [[ " ${keep[*]} " == *" $d "* ]] || { say "prune: removing $d"; rm -rf "$d"; }
    done ;;
esac
}

main "$@"; exit $?
