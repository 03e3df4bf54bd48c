"""Real services a monitoring test starts and stops on loopback: small HTTP(S) servers
(what a scan finds), an HTTP receiver (webhooks, Slack) that records what it is sent, an
SMTP server with STARTTLS and AUTH (aiosmtpd), and certificates made for them."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from netatlas.lab.certs import write_leaf

FORBIDDEN_PORT = 2024


def free_port(host: str = "127.0.0.1") -> int:
    while True:
        with socket.socket() as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port != FORBIDDEN_PORT:
            return port


def make_cert(folder: Path, name: str, ips: list[str], days: float) -> tuple[Path, Path]:
    now = dt.datetime.now(dt.UTC)
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    write_leaf(cert, key, cn=name, dns=[], ips=ips, key_bits=2048,
               not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=days))
    return cert, key


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the scanner's TLS probes fail handshakes on purpose; no traceback each


class WebService:
    """An HTTP server (HTTPS with ``cert``) that says ``Server: <server>``."""

    def __init__(self, ip: str, port: int, server: str,
                 cert: tuple[Path, Path] | None = None) -> None:
        header = server

        class Handler(BaseHTTPRequestHandler):
            def version_string(self) -> str:
                return header

            def do_GET(self) -> None:
                body = b"<html><head><title>monitored</title></head><body>hi</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        Handler.timeout = 10  # a silent connection's thread ends too
        ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = _QuietServer((ip, port), Handler)
        if cert is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
            # the handshake happens in the request's thread, not in accept(): a client
            # that connects and says nothing (a port probe) must not hang serve_forever,
            # and with it shutdown()
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class Receiver:
    """Records every POST: (path, headers, body)."""

    def __init__(self, port: int) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        self.arrived = threading.Event()
        got, arrived = self.got, self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                got.append((self.path, dict(self.headers.items()), self.rfile.read(n)))
                arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.arrived.set()
        return "250 OK"


def smtp_server(port: int, cert: tuple[Path, Path], user: str, password: str
                ) -> tuple[Controller, Mailbox]:
    """aiosmtpd on 127.0.0.1 offering STARTTLS, requiring it before AUTH, requiring AUTH."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok)

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port, tls_context=ctx,
                            require_starttls=True, auth_require_tls=True,
                            auth_required=True, authenticator=authenticate)
    controller.start()
    return controller, box
