import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "lab", "k8s", "kubelab"))


def pytest_configure(config):
    config.addinivalue_line("markers", "ceph: needs a local Ceph cluster (KUBELAB_CEPH_CONF)")
