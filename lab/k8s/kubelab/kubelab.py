#!/usr/bin/env python3
"""kubelab: Kubernetes stand-ins for the blackstart test lab.

Usage: python3 /opt/kubelab/kubelab.py <component> --config /etc/kubelab/config.json

Components: kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy,
kubelet, containerd.  Stdlib only; see lab/k8s/README.md for what is (not) implemented.
"""
import argparse
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

COMPONENTS = {
    "kube-apiserver": "kl.apiserver",
    "kube-controller-manager": "kl.controllers",
    "kube-scheduler": "kl.scheduler",
    "kube-proxy": "kl.kubeproxy",
    "kubelet": "kl.kubelet",
    "containerd": "kl.containerd",
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kubelab", description=__doc__.splitlines()[0])
    parser.add_argument("component", choices=sorted(COMPONENTS))
    parser.add_argument("--config", default="/etc/kubelab/config.json")
    args = parser.parse_args(argv)
    from kl import config, log
    log.setup(args.component)
    cfg = config.load(args.config)
    cfg["component"] = args.component
    module = importlib.import_module(COMPONENTS[args.component])
    return module.run(cfg) or 0


if __name__ == "__main__":
    sys.exit(main())
