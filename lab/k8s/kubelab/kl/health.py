"""/livez and /readyz with the real apiserver's output format."""
import logging

from . import etcd

LOG = logging.getLogger("health")

POSTSTART_HOOKS = [
    "poststarthook/start-apiserver-admission-initializer", "poststarthook/generic-apiserver-start-informers",
    "poststarthook/start-kube-apiserver-admission-initializer", "poststarthook/bootstrap-controller",
]


class Checker:
    def __init__(self, etcd_client, timeout, started):
        self.etcd = etcd_client
        self.timeout = timeout
        self.started = started
        self.shutting_down = False

    def _etcd(self):
        # A linearizable read needs a leader and a quorum (ReadIndex); a short
        # timeout turns "no quorum" into a failed check instead of a hang.
        try:
            self.etcd.range("health", timeout=self.timeout)
            return None
        except etcd.EtcdError as exc:
            return str(exc)

    def checks(self, kind):
        names = ["ping", "log", "etcd"]
        if kind == "readyz":
            names += ["etcd-readiness", "informer-sync"]
        names += POSTSTART_HOOKS
        if kind == "readyz":
            names.append("shutdown")
        return names

    def run(self, kind, exclude=()):
        etcd_error = None
        results = []
        for name in self.checks(kind):
            if name in exclude:
                continue
            err = None
            if name in ("etcd", "etcd-readiness"):
                if etcd_error is None:
                    etcd_error = self._etcd() or ""
                err = etcd_error or None
            elif name == "shutdown" and self.shutting_down:
                err = "process is shutting down"
            results.append((name, err))
        for name, err in results:
            if err:
                LOG.info("%s check %s failed: %s", kind, name, err)
        return results

    @staticmethod
    def render(kind, results, verbose):
        failed = any(err for _, err in results)
        if not failed and not verbose:
            return 200, "ok"
        lines = [f"[-]{name} failed: reason withheld" if err else f"[+]{name} ok" for name, err in results]
        lines.append(f"{kind} check failed" if failed else f"{kind} check passed")
        return (500 if failed else 200), "\n".join(lines) + "\n"

    def single(self, kind, name):
        if name not in self.checks(kind):
            return 404, "404 page not found\n"
        results = [r for r in self.run(kind) if r[0] == name]
        err = results[0][1] if results else None
        if err:
            return 500, f"internal server error: {name} check failed\n"
        return 200, "ok"

