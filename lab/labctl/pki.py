"""The lab CA and every certificate the lab needs, generated with openssl on the controller (STATE_DIR/pki)."""

from __future__ import annotations

import base64
import secrets
import subprocess
import tempfile
from pathlib import Path

from .core import PKI_DIR, LabError, hosts_with, is_k8s

CA_DAYS = 3650
LEAF_DAYS = 365


def _run(*cmd: str) -> None:
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise LabError(f"openssl failed: {' '.join(cmd)}\n{p.stderr}")


def _key(path: Path) -> None:
    _run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))
    path.chmod(0o600)


def ensure_ca() -> None:
    PKI_DIR.mkdir(parents=True, exist_ok=True)
    PKI_DIR.chmod(0o700)
    if (PKI_DIR / "ca.crt").exists():
        return
    _key(PKI_DIR / "ca.key")
    _run("openssl", "req", "-x509", "-new", "-key", str(PKI_DIR / "ca.key"), "-sha256", "-days", str(CA_DAYS),
         "-subj", "/O=blackstart-lab/CN=blackstart-lab-ca",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-out", str(PKI_DIR / "ca.crt"))


def cert(name: str, cn: str, org: str | None = None, sans: list[str] | None = None,
         usage: str = "clientAuth") -> tuple[Path, Path]:
    """Leaf certificate signed by the lab CA; idempotent (kept when it exists)."""
    crt, key = PKI_DIR / f"{name}.crt", PKI_DIR / f"{name}.key"
    if crt.exists() and key.exists():
        return crt, key
    _key(key)
    subj = (f"/O={org}" if org else "") + f"/CN={cn}"
    with tempfile.TemporaryDirectory() as td:
        csr, ext = Path(td) / "csr", Path(td) / "ext"
        lines = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
                 f"extendedKeyUsage={usage}"]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        _run("openssl", "req", "-new", "-key", str(key), "-subj", subj, "-out", str(csr))
        _run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(PKI_DIR / "ca.crt"), "-CAkey",
             str(PKI_DIR / "ca.key"), "-set_serial", "0x" + secrets.token_hex(16), "-sha256",
             "-days", str(LEAF_DAYS), "-extfile", str(ext), "-out", str(crt))
    return crt, key


def host_sans(h: dict) -> list[str]:
    return [f"DNS:{h['name']}", "DNS:localhost", f"IP:{h['ip']}", "IP:127.0.0.1"]


def ensure_all(topo: dict) -> None:
    ensure_ca()
    for h in hosts_with(topo, "etcd"):
        cert(f"etcd-{h['name']}", h["name"], sans=host_sans(h), usage="serverAuth,clientAuth")
    cert("etcd-client", "kube-apiserver-etcd-client", usage="clientAuth")
    for h in hosts_with(topo, "k8s_control_plane"):
        cert(f"apiserver-{h['name']}", "kube-apiserver",
             sans=host_sans(h) + ["DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc"],
             usage="serverAuth")
    cert("admin", "admin", org="system:masters")
    cert("kube-controller-manager", "system:kube-controller-manager")
    cert("kube-scheduler", "system:kube-scheduler")
    cert("kube-proxy", "system:kube-proxy", org="system:node-proxier")
    for h in topo["hosts"]:
        if is_k8s(h):
            cert(f"node-{h['name']}", f"system:node:{h['name']}", org="system:nodes")


def kubeconfig(server: str, user: str, crt: str, key: str, ca: str, embed: bool) -> str:
    """A kubeconfig; embed=True inlines the PEMs (controller copy), else references files (host copy)."""
    if embed:
        b64 = lambda p: base64.b64encode(Path(p).read_bytes()).decode()  # noqa: E731
        ca_line = f"certificate-authority-data: {b64(ca)}"
        crt_line, key_line = f"client-certificate-data: {b64(crt)}", f"client-key-data: {b64(key)}"
    else:
        ca_line, crt_line, key_line = (f"certificate-authority: {ca}", f"client-certificate: {crt}",
                                       f"client-key: {key}")
    return f"""apiVersion: v1
kind: Config
clusters:
- name: blackstart-lab
  cluster:
    server: {server}
    {ca_line}
users:
- name: {user}
  user:
    {crt_line}
    {key_line}
contexts:
- name: {user}@blackstart-lab
  context:
    cluster: blackstart-lab
    user: {user}
current-context: {user}@blackstart-lab
"""
