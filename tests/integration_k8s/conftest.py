# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gates against the lab/k8s harness: real etcd (3 members, TLS), kubelab stand-ins, the real kubectl."""
import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "lab_k8s"))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "blackstart", "cluster")

import harness  # noqa: E402  (the other engineer's harness, used as is)


def prerequisites():
    why = harness.prerequisites()
    if why:
        return why
    if not _which("etcdctl"):
        return "etcdctl not installed (apt-get install etcd-client)"
    return None


def _which(name):
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


class Gates(object):
    """Runs the collection's modules as Ansible runs them (a JSON args file, the module as __main__)."""

    def __init__(self, lab):
        self.lab = lab
        if not os.path.exists(LINK):
            os.makedirs(os.path.dirname(LINK), exist_ok=True)
            os.symlink(REPO, LINK)
        self.kubectl = lab.kubectl_bin
        self.etcd_urls = ["https://127.0.0.1:%d" % p for p in lab.etcd_client_ports]

    def run(self, module, **args):
        path = os.path.join(self.lab.tmp, "args-%s.json" % module)
        with open(path, "w") as fh:
            json.dump({"ANSIBLE_MODULE_ARGS": args}, fh)
        env = dict(os.environ, PYTHONPATH=COLLECTIONS)
        t0 = time.monotonic()
        res = subprocess.run([sys.executable, "-m", "ansible_collections.blackstart.cluster.plugins.modules." + module,
                              path], check=False, capture_output=True, text=True, env=env, timeout=300)
        try:
            out = json.loads(res.stdout)
        except ValueError:
            raise AssertionError("%s printed no JSON (rc=%s): %s %s" % (module, res.returncode, res.stdout, res.stderr))
        out["_wall"] = time.monotonic() - t0
        return out

    def k8s(self, module, **args):
        args.setdefault("kubectl", self.kubectl)
        args.setdefault("kubeconfig", self.lab.kubeconfig)
        args.setdefault("cli_timeout", 5)
        return self.run(module, **args)

    def etcd(self, **args):
        args.setdefault("endpoints", self.etcd_urls)
        args.setdefault("cacert", self.lab.pki.ca)
        args.setdefault("cert", self.lab.etcd_client[0])
        args.setdefault("key", self.lab.etcd_client[1])
        args.setdefault("cli_timeout", 2)
        return self.run("etcd_wait", **args)


def node_ready(lab, name):
    node = lab.kjson("get", "node", name)
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["status"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    why = prerequisites()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("bs-k8s")
    lab = harness.Lab(tmp, harness.find_kubectl())
    try:
        lab.start_etcd_cluster()
        lab.start("kube-apiserver", "m1", "master")
        lab.wait_for("apiserver ready", lambda: lab.raw_get("/readyz", cert=False)[0] == 200, timeout=40)
        lab.start("kube-controller-manager", "m1", "master", hostpath_provisioner_dir=str(tmp / "hostpath"))
        lab.start("kube-scheduler", "m1", "master")
        for node in ("w1", "w2"):
            lab.start("containerd", node)
            lab.start("kubelet", node)
        lab.wait_for("both nodes Ready", lambda: all(node_ready(lab, n) == "True" for n in ("w1", "w2")), timeout=40)
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def gates(lab):
    return Gates(lab)
