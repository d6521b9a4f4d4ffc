# blackstart.cluster — one command for each thing a developer or CI does.
#   make test   every test: unit (on real Ceph outputs), ansible-test sanity, ansible-lint, lab tests
#   make demo   a whole power cycle on the embedded lab cluster
# Both install what they need first (apt packages, .venv), so they work on a fresh Debian 12 machine.

SHELL        := /bin/bash
.SHELLFLAGS  := -euo pipefail -c
PYTHON       ?= python3
VENV         := .venv
VPY          := $(VENV)/bin/python
VBIN         := $(VENV)/bin
# The collection must sit at a path ending ansible_collections/<namespace>/<name>.
BUILD        := .build
COLL_ROOT    := $(BUILD)/collections
COLL_LINK    := $(COLL_ROOT)/ansible_collections/blackstart/cluster
SANITY_TREE  := $(BUILD)/sanity/ansible_collections/blackstart/cluster
# ansible-test's --venv bootstraps pip from a host we cannot reach: run it --local in a venv of its own,
# where --requirements installs its pinned linters from PyPI without touching .venv.
SANITY_VENV  := .venv-sanity
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLL_ROOT)
export PATH  := $(CURDIR)/$(VBIN):$(PATH)

.PHONY: help venv test unit sanity lint docs-check build clean demo molecule faults faults-tier faults-upstream
.DEFAULT_GOAL := help

help:
	@echo "make demo    bring up the lab and run power_off.yml then power_on.yml against it"
	@echo "make test    unit tests, ansible-test sanity, ansible-lint, lab and Molecule tests"
	@echo "make unit | sanity | lint | docs-check | build | lab-up | lab-status | lab-down"
	@echo "make faults (the whole fault matrix) | lab-power-test (the power backends against IPMI/Redfish/WoL peers)"

# --- set-up ---------------------------------------------------------------------------------------------
$(VENV)/.installed: requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "python3 is required"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(VPY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(VPY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(COLL_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

venv: $(VENV)/.installed $(COLL_LINK)

$(SANITY_VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(SANITY_VENV)
	$(SANITY_VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(SANITY_VENV)/bin/python -m pip install -q --disable-pip-version-check $$(grep '^ansible-core==' requirements-dev.txt)
	touch $@

# --- tests ----------------------------------------------------------------------------------------------
# Fast suites first: a unit or lint failure stops the run before the lab is built.
test: venv unit sanity lint docs-check lab-k8s-test k8s-gates-test lab-test faults-tier molecule lab-power-test
	@echo "make test: all suites passed"

unit: venv
	$(VPY) -m pytest tests/unit -q -p no:cacheprovider \
	  --cov=ansible_collections.blackstart.cluster.plugins --cov-report=term-missing:skip-covered \
	  --cov-fail-under=90

# ansible-test wants a real tree (it resolves symlinks) and asks git which files it holds: copy what git
# knows, minus the lab, into a tree with its own git index (inside ours, .build/ is ignored).
# SANITY_ARGS='--test pylint' runs one test.
# ansible-test asks for a get-pip.py it downloads from an unreachable host; give it the local stand-in.
GET_PIP_CACHE = $(HOME)/.ansible/test/cache/get_pip_$(shell grep -ho "pip='[0-9.]*'" \
  $(SANITY_VENV)/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | tr -dc '0-9.' | tr . _).py

sanity: venv $(SANITY_VENV)/.installed
	mkdir -p $(dir $(GET_PIP_CACHE)) && cp tools/get_pip_standin.py $(GET_PIP_CACHE)
	rm -rf $(BUILD)/sanity && mkdir -p $(SANITY_TREE)
	git ls-files -co --exclude-standard -z \
	  | grep -zv -e '^lab/' -e '^tests/lab' -e '^tests/faults' -e '^\.ci/' -e '^tools/' \
	  | tar --null -T - -cf - | tar -xf - -C $(SANITY_TREE)
	cd $(SANITY_TREE) && git init -q && git add -A
	cd $(SANITY_TREE) && PATH=$(CURDIR)/$(SANITY_VENV)/bin:$$PATH \
	  ansible-test sanity --local --python 3.11 --requirements --color no $(SANITY_ARGS)

lint: venv
	$(VBIN)/ansible-lint --offline --profile production

docs-check: venv
	@for m in $$(ls plugins/modules/*.py | xargs -n1 basename | sed 's/\.py$$//'); do \
	  $(VBIN)/ansible-doc -t module blackstart.cluster.$$m >/dev/null || { echo "ansible-doc failed for $$m"; exit 1; }; \
	done; echo "ansible-doc renders for $$(ls plugins/modules/*.py | wc -l) modules"

build: venv
	$(VBIN)/ansible-galaxy collection build --force --output-path $(BUILD)

# A whole power cycle on the embedded lab: bring it up, power it off in order, power it on with every gate.
DEMO_TOPOLOGY ?= incident
PLAYBOOK = $(VBIN)/ansible-playbook -i inventories/lab/hosts.yml
# ansible.posix.timer (from the ansible package) ends each playbook with its wall time.
demo: export ANSIBLE_CALLBACKS_ENABLED := ansible.posix.timer
demo: venv
	$(MAKE) lab-up TOPOLOGY=$(DEMO_TOPOLOGY)
	$(PLAYBOOK) playbooks/power_off.yml
	$(MAKE) lab-status
	$(PLAYBOOK) playbooks/power_on.yml
	$(MAKE) lab-status

# Molecule on the lab: `default` (planned power cycle) then `outage` (the incident), each verified by testinfra.
MOLECULE_LAB_TOPOLOGY ?= incident
molecule: venv lab-deps
	$(MAKE) lab-up TOPOLOGY=$(MOLECULE_LAB_TOPOLOGY)
	# reset: Molecule otherwise remembers "created/prepared" from an earlier run and skips prepare
	$(VBIN)/molecule reset -s default && $(VBIN)/molecule reset -s outage
	rm -f $(BUILD)/molecule-*.xml
	for scenario in default outage; do \
	  MOLECULE_LAB_TOPOLOGY=$(MOLECULE_LAB_TOPOLOGY) $(VBIN)/molecule test -s $$scenario || { \
	    echo "molecule $$scenario failed; its verifier's failures:"; \
	    $(VPY) tools/junit_failures.py $(BUILD)/molecule-$$scenario.xml; exit 1; }; \
	done

# The fault matrix (issue 8) on the incident lab: every scenario kills, breaks or misconfigures a power cycle and
# asserts the end state, the data checksums, the diagnosis and that nothing we set was left set.
# `make test` runs the tier (every scenario kind once); `make faults` runs them all. Logs: .build/faults/.
# test_drain_pdb.py runs on real Kubernetes: etcd, the control plane and KWOK, built first (~1 s when built).
faults-upstream:
	$(MAKE) lab-upstream UPSTREAM_COMPONENTS="etcd kwok kubernetes"

faults-tier: venv lab-deps faults-upstream
	$(VPY) -m pytest tests/faults -m tier -p no:cacheprovider -v -rA --durations=0 $(FAULTS_ARGS)

faults: venv lab-deps faults-upstream
	$(VPY) -m pytest tests/faults -p no:cacheprovider -v -rA --durations=0 $(FAULTS_ARGS)

clean:
	rm -rf $(BUILD) .pytest_cache .coverage

-include lab/lab.mk
-include lab/k8s/k8s.mk
-include tests/integration_k8s/integration.mk
-include lab/bmc/bmc.mk
-include lab/upstream/upstream.mk
