"""Threaded HTTPS server with optional client-cert authentication."""
import http.server
import logging
import socket
import ssl

LOG = logging.getLogger("http")


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, handler, cert, key, client_ca):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(client_ca)
        # OPTIONAL: a cert not signed by the CA fails the handshake; no cert
        # at all is "system:anonymous" (allowed on health/version only).
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        self.ssl_context = ctx
        super().__init__(address, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request, client_address):
        try:
            request.settimeout(30)
            request.do_handshake()
            request.settimeout(None)
        except (ssl.SSLError, OSError, socket.timeout) as exc:
            LOG.info("TLS handshake with %s failed: %s", client_address[0], exc)
            try:
                request.close()
            except OSError:
                pass
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        LOG.exception("error serving %s", client_address[0])


def peer_identity(sock):
    """(user, groups) from a verified client certificate, or None."""
    try:
        cert = sock.getpeercert()
    except (ValueError, OSError):
        return None
    if not cert:
        return None
    user, groups = None, []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.append(value)
    return (user, groups) if user else None
