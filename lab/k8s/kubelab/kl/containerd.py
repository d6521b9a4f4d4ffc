"""containerd stand-in: the node's container runtime.

Containers are plain host processes started on the kubelet's request; they
are children of THIS daemon, so they outlive a kubelet restart and die when
the runtime stops (SIGTERM, grace, SIGKILL).  The kubelet talks to it over a
unix socket (default /run/containerd/containerd.sock, the "runtime is up"
signal) with one JSON object per line:

  {"op": "ping"}
  {"op": "run", "id": ..., "argv": [...], "env": {...}, "cwd": "/", "log": path}
  {"op": "list"}                      -> {"containers": [{id, pid, running, exit_code, ...}]}
  {"op": "kill", "id": ..., "grace": seconds}
  {"op": "remove", "id": ...}
"""
import json
import logging
import os
import signal
import socketserver
import subprocess
import threading
import time

from . import runloop
from .meta import now_rfc3339

LOG = logging.getLogger("containerd")


class Container:
    def __init__(self, cid, proc, argv, log):
        self.id, self.proc, self.argv, self.log = cid, proc, argv, log
        self.started_at = now_rfc3339()
        self.finished_at = None
        self.exit_code = None

    def poll(self):
        if self.exit_code is None and self.proc.poll() is not None:
            self.exit_code = self.proc.returncode
            self.finished_at = now_rfc3339()
            LOG.info("container %s exited with %s", self.id, self.exit_code)
        return self.exit_code

    def describe(self):
        self.poll()
        code = self.exit_code
        return {"id": self.id, "pid": self.proc.pid, "running": code is None,
                "exit_code": (128 - code) if code is not None and code < 0 else code,
                "signal": -code if code is not None and code < 0 else None,
                "started_at": self.started_at, "finished_at": self.finished_at}

    def kill(self, grace):
        if self.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.poll() is None:
                time.sleep(0.1)
            if self.poll() is not None:
                break


class Runtime:
    def __init__(self, grace):
        self.grace = grace
        self.containers = {}
        self.lock = threading.Lock()

    def op_ping(self, _req):
        return {"ok": True, "version": "kubelab-containerd/1"}

    def op_run(self, req):
        cid = req["id"]
        with self.lock:
            old = self.containers.get(cid)
            if old and old.poll() is None:
                return {"ok": False, "error": f"container {cid} is already running"}
            os.makedirs(os.path.dirname(req["log"]), exist_ok=True)
            with open(req["log"], "ab") as log:
                try:
                    proc = subprocess.Popen(req["argv"], env=req.get("env") or {}, cwd=req.get("cwd") or "/",
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
                except OSError as exc:
                    return {"ok": False, "error": f"failed to create containerd task: {exc}"}
            self.containers[cid] = Container(cid, proc, req["argv"], req["log"])
        LOG.info("started container %s pid %d", cid, proc.pid)
        return {"ok": True, "pid": proc.pid}

    def op_list(self, _req):
        with self.lock:
            items = list(self.containers.values())
        return {"ok": True, "containers": [c.describe() for c in items]}

    def op_kill(self, req):
        c = self.containers.get(req["id"])
        if c is None:
            return {"ok": True}
        c.kill(float(req.get("grace", self.grace)))
        return {"ok": True, "container": c.describe()}

    def op_remove(self, req):
        with self.lock:
            c = self.containers.get(req["id"])
            if c is not None and c.poll() is None:
                return {"ok": False, "error": f"container {req['id']} is running"}
            self.containers.pop(req["id"], None)
        return {"ok": True}

    def stop_all(self):
        with self.lock:
            items = list(self.containers.values())
        threads = [threading.Thread(target=c.kill, args=(self.grace,)) for c in items]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        LOG.info("stopped %d containers", len(items))

    def reap(self, stop):
        while not stop.wait(1.0):
            with self.lock:
                for c in self.containers.values():
                    c.poll()


def make_handler(runtime):
    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                try:
                    req = json.loads(line)
                    fn = getattr(runtime, "op_" + str(req.get("op")), None)
                    resp = fn(req) if fn else {"ok": False, "error": f"unknown op {req.get('op')!r}"}
                except (ValueError, KeyError, TypeError) as exc:
                    resp = {"ok": False, "error": f"bad request: {exc}"}
                self.wfile.write(json.dumps(resp).encode() + b"\n")
                self.wfile.flush()
    return Handler


class Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def run(cfg):
    path = cfg["containerd_socket"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    stop = runloop.stop_event()
    runtime = Runtime(float(cfg["containerd_kill_grace_seconds"]))
    server = Server(path, make_handler(runtime))
    os.chmod(path, 0o600)
    threading.Thread(target=server.serve_forever, daemon=True, name="socket").start()
    threading.Thread(target=runtime.reap, args=(stop,), daemon=True, name="reaper").start()
    LOG.info("containerd (kubelab) serving on %s", path)
    stop.wait()
    try:
        os.unlink(path)   # the runtime is no longer up
    except OSError:
        pass
    server.shutdown()
    runtime.stop_all()
    LOG.info("stopped")
    return 0
