# Upstream binaries for the lab (issue 9, step 1). Included by the top-level Makefile with
# `-include lab/upstream/upstream.mk`. Not part of `make test`: a cold build takes tens of minutes.
# make lab-upstream [UPSTREAM_COMPONENTS="etcd pause"]   build what is missing or stale (idempotent; a no-op in ~1 s)
# make lab-upstream-check                                  print every binary's version, fail if one is not the pin
# Pins: lab/upstream/versions.env. Output, outside the work tree so every clone on this machine shares it:
# $UPSTREAM_STATE (default ${XDG_CACHE_HOME:-$HOME/.cache}/blackstart/upstream)/<component>-<version>/, links in .../bin/.
UPSTREAM_COMPONENTS ?=
UPSTREAM_APT_PACKAGES := gcc libc6-dev pkg-config libseccomp-dev

.PHONY: lab-upstream lab-upstream-check lab-upstream-deps

lab-upstream-deps:
	@command -v go >/dev/null || { echo "lab-upstream: no 'go' on PATH: Go >= 1.26 is needed (the machine's own; Debian's golang-go is too old)"; exit 1; }
	@if ! command -v gcc >/dev/null || [ ! -f /usr/lib/x86_64-linux-gnu/libc.a ] || ! pkg-config --exists libseccomp 2>/dev/null; then \
	  echo "lab-upstream: installing $(UPSTREAM_APT_PACKAGES) (static pause; runc with seccomp)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(UPSTREAM_APT_PACKAGES) >/dev/null; fi

lab-upstream: lab-upstream-deps
	@lab/upstream/build.sh all $(UPSTREAM_COMPONENTS)

lab-upstream-check:
	@lab/upstream/build.sh check $(UPSTREAM_COMPONENTS)
