# The power backends against real protocol peers (lab/bmc, issue 8 item 8). Included by the top-level
# Makefile after lab/lab.mk (`-include lab/bmc/bmc.mk`); uses its lab-deps.
# make lab-power-test    bring up the `power` lab (lab/bmc/topology.yml: pw1..pw3, no cluster roles) as its own
#                        instance, run tests/lab_power (IPMI/pyghmi, Redfish/sushy-tools, WoL, none, settle bound),
#                        take the lab down again (LAB_POWER_KEEP=1 leaves it up)
# make lab-power-up / lab-power-down
# make lab-power-peers   run the three emulators for pw1..pw3 by hand (prints the role variables; Ctrl-C stops)
LAB_POWER_INSTANCE ?= 3
LAB_POWER_PY := $(or $(VENV),.venv)/bin/python
LAB_POWER_ENV := BLACKSTART_LAB_INSTANCE=$(LAB_POWER_INSTANCE)

.PHONY: lab-power-test lab-power-up lab-power-down lab-power-peers

lab-power-up: lab-deps
	$(LAB_POWER_ENV) $(LAB_POWER_PY) lab/bin/lab up lab/bmc/topology.yml

lab-power-down:
	$(LAB_POWER_ENV) $(LAB_POWER_PY) lab/bin/lab down

lab-power-test: lab-power-up
	@start=$$(date +%s); \
	$(LAB_POWER_ENV) $(LAB_POWER_PY) -m pytest tests/lab_power -q -p no:cacheprovider -rA; rc=$$?; \
	echo "lab-power-test: tests took $$(( $$(date +%s) - start )) s"; \
	if [ -z "$(LAB_POWER_KEEP)" ]; then $(LAB_POWER_ENV) $(LAB_POWER_PY) lab/bin/lab down || rc=1; fi; \
	exit $$rc

lab-power-peers:
	$(LAB_POWER_ENV) $(LAB_POWER_PY) lab/bmc/peers.py pw1 pw2 pw3
