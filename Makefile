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
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/$(COLL_ROOT)
export PATH  := $(CURDIR)/$(VBIN):$(PATH)

.PHONY: help venv test unit sanity lint docs-check build clean demo
.DEFAULT_GOAL := help

help:
	@echo "make demo    bring up the lab and run power_off.yml then power_on.yml against it"
	@echo "make test    unit tests, ansible-test sanity, ansible-lint, lab tests"
	@echo "make unit | sanity | lint | docs-check | build | lab-up | lab-status | lab-down"

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

# --- tests ----------------------------------------------------------------------------------------------
test: venv unit sanity lint docs-check $(if $(wildcard lab/lab.mk),lab-test)
	@echo "make test: all suites passed"

unit: venv
	$(VPY) -m pytest tests/unit -q -p no:cacheprovider \
	  --cov=ansible_collections.blackstart.cluster.plugins --cov-report=term-missing:skip-covered \
	  --cov-fail-under=90

# ansible-test wants a real tree (it resolves symlinks): copy what git knows, minus the lab.
sanity: venv
	rm -rf $(BUILD)/sanity && mkdir -p $(SANITY_TREE)
	git ls-files -co --exclude-standard -z \
	  | grep -zv -e '^lab/' -e '^tests/lab' -e '^\.ci/' \
	  | tar --null -T - -cf - | tar -xf - -C $(SANITY_TREE)
	cd $(SANITY_TREE) && $(CURDIR)/$(VBIN)/ansible-test sanity --venv --python 3.11 --color no

lint: venv
	$(VBIN)/ansible-lint --offline --profile production

docs-check: venv
	@for m in $$(ls plugins/modules/*.py | xargs -n1 basename | sed 's/\.py$$//'); do \
	  $(VBIN)/ansible-doc -t module blackstart.cluster.$$m >/dev/null || { echo "ansible-doc failed for $$m"; exit 1; }; \
	done; echo "ansible-doc renders for $$(ls plugins/modules/*.py | wc -l) modules"

build: venv
	$(VBIN)/ansible-galaxy collection build --force --output-path $(BUILD)

clean:
	rm -rf $(BUILD) .pytest_cache .coverage

-include lab/lab.mk
-include lab/k8s/k8s.mk
