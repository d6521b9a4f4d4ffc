"""Keep-alive HTTPS connections (one per thread and endpoint).

urllib opens a new TLS connection per request; with controllers polling every
couple of seconds that handshake dominated the CPU of apiserver and etcd."""
import http.client
import socket
import threading
import urllib.parse


class HTTPError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}")
        self.status, self.body = status, body


class Pool:
    def __init__(self, ssl_context, timeout):
        self.ctx, self.timeout = ssl_context, timeout
        self._local = threading.local()

    def _conns(self):
        if not hasattr(self._local, "conns"):
            self._local.conns = {}
        return self._local.conns

    def _connect(self, netloc, timeout):
        host, _, port = netloc.rpartition(":")
        conn = http.client.HTTPSConnection(host.strip("[]"), int(port), context=self.ctx, timeout=timeout)
        conn.connect()
        return conn

    def request(self, base_url, method, path, body=None, headers=None, timeout=None):
        """Returns (status, body bytes); raises OSError/http.client errors when unreachable."""
        netloc = urllib.parse.urlsplit(base_url).netloc
        timeout = timeout or self.timeout
        conns = self._conns()
        for attempt in (0, 1):
            conn = conns.get(netloc)
            reused = conn is not None
            try:
                if conn is None:
                    conn = conns[netloc] = self._connect(netloc, timeout)
                conn.sock.settimeout(timeout)
                conn.request(method, path, body=body, headers=headers or {})
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self._drop(netloc)
                return resp.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.BadStatusLine) as exc:
                self._drop(netloc)
                if not reused or attempt:   # only a stale kept-alive connection is retried
                    raise OSError(f"{netloc}: {exc!r}") from exc
            except (OSError, socket.timeout, http.client.HTTPException):
                self._drop(netloc)
                raise
        raise OSError(f"{netloc}: no answer")

    def _drop(self, netloc):
        conn = self._conns().pop(netloc, None)
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass
