"""A small TLS server in a thread for the TLS grab tests, on 127.20.16.x (this test
family's net). Real handshakes with a Python ssl context for the grabber's own
connections (their ClientHello offers ALPN http/1.1); every other connection (the
version and cipher probes) gets ``extra``: the same real TLS, or hostile behaviour
(reset after the ClientHello, drip one byte at a time, stay silent)."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import struct
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events

from netatlas.lab.certs import write_leaf

HOST = "127.20.16.201"
PAGE = b"<html><head><title>tls test page</title></head></html>"


def self_signed(tmp: Path, bits: int = 2048, days: tuple[int, int] = (-1, 30),
                name: str = "tls.lab.test", ip: str = HOST) -> tuple[Path, Path]:
    now = dt.datetime.now(dt.UTC)
    cert, key = tmp / f"{name}-{bits}.crt", tmp / f"{name}-{bits}.key"
    write_leaf(cert, key, cn=name, dns=[name], ips=[ip] if ip else [], key_bits=bits,
               not_before=now + dt.timedelta(days=days[0]),
               not_after=now + dt.timedelta(days=days[1]))
    return cert, key


def server_context(cert: Path, key: Path, low: ssl.TLSVersion = ssl.TLSVersion.TLSv1,
                   high: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
                   ciphers: str = "DEFAULT:@SECLEVEL=0", alpn: tuple[str, ...] = ("http/1.1",),
                   chain: Path | None = None) -> ssl.SSLContext:
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        c.minimum_version, c.maximum_version = low, high
    c.set_ciphers(ciphers)
    if chain is not None:  # leaf + whatever else we want the server to send
        both = cert.with_suffix(".chain.pem")
        both.write_bytes(cert.read_bytes() + chain.read_bytes())
        cert = both
    c.load_cert_chain(cert, key)
    if alpn:
        c.set_alpn_protocols(list(alpn))
    return c


class TlsServer:
    def __init__(self, ctx: ssl.SSLContext, extra: str = "tls", host: str = HOST,
                 h2: str = "ok", reset_all: bool = False) -> None:
        self.ctx, self.extra, self.h2 = ctx, extra, h2
        self.reset_all = reset_all  # the grab's own handshakes meet ``extra`` too
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        assert self.port != 2024
        self.hellos = 0  # connections that sent a ClientHello
        self.extras = 0  # ... of which were version / cipher probes (no ALPN)
        self.jarms = 0  # ... and JARM's ten hellos
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> TlsServer:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sock.close()
        for t in self._threads:
            t.join(timeout=5)

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with contextlib.suppress(OSError, ssl.SSLError), conn:
            head = conn.recv(4096, socket.MSG_PEEK)
            if not head:
                return
            self.hellos += 1
            # JARM's hellos offer odd ALPNs (http/0.9, spdy/..., or h2c and hq alone)
            jarm = b"\x08http/0.9" in head
            ours = b"\x08http/1.1" in head and not jarm  # ALPN: the grab itself
            if jarm:
                self.jarms += 1
            elif not ours:
                self.extras += 1
            if (ours and not self.reset_all) or self.extra == "tls":
                self._tls(conn)
            elif self.extra == "reset":
                conn.recv(4096)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif self.extra == "drip":
                for b in b"\x16\x03\x03\x00\x40" + bytes(64):
                    if self._stop.is_set():
                        return
                    conn.sendall(bytes([b]))
                    time.sleep(0.5)
            elif self.extra == "fake-3des":
                self._fake_3des(conn)
            elif self.extra == "silent":
                self._stop.wait(8)

    def _fake_3des(self, conn: socket.socket) -> None:
        """Answer a raw hello that offers DES-CBC3-SHA with a ServerHello choosing it
        (no OpenSSL here can), anything else with a handshake_failure alert."""
        hello = conn.recv(4096)
        at = 44 + (hello[43] if len(hello) > 43 else 0)  # past the session id
        n = struct.unpack("!H", hello[at : at + 2])[0] if len(hello) >= at + 2 else 0
        suites = {struct.unpack("!H", hello[i : i + 2])[0]
                  for i in range(at + 2, min(at + 2 + n, len(hello) - 1), 2)}
        if 0x000A in suites:
            body = b"\x03\x03" + bytes(32) + b"\x00\x00\x0a\x00"
            hs = b"\x02" + len(body).to_bytes(3, "big") + body
            conn.sendall(b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs)
        else:
            conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")

    def _h2(self, tls: ssl.SSLSocket, first: bytes) -> None:
        """ALPN chose h2: a real HTTP/2 answer (h2, server side), or hostile bytes."""
        if self.h2 == "garbage":
            tls.sendall(b"\x00\x00\x04\x09\xff\xff\xff\xff\xffJUNK" * 50)
            return
        if self.h2 == "drip":
            for b in bytes(9) + b"x" * 40:
                if self._stop.is_set():
                    return
                tls.sendall(bytes([b]))
                time.sleep(0.3)
            return
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        c.initiate_connection()
        data, pending = first, {}
        while data:
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    body = PAGE if self.h2 == "ok" else b"x" * 300_000
                    c.send_headers(ev.stream_id, [(":status", "200"), ("server", "h2test"),
                                                  ("content-length", str(len(body)))])
                    pending[ev.stream_id] = body
            for sid, rest in list(pending.items()):  # as much as the windows allow
                room = min(c.local_flow_control_window(sid), c.max_outbound_frame_size)
                while rest and room > 0:
                    c.send_data(sid, rest[:room], end_stream=len(rest) <= room)
                    rest = rest[room:]
                    room = min(c.local_flow_control_window(sid), c.max_outbound_frame_size)
                pending[sid] = rest
                if not rest:
                    del pending[sid]
            tls.sendall(c.data_to_send())
            data = tls.recv(65536)

    def _tls(self, conn: socket.socket) -> None:
        with self.ctx.wrap_socket(conn, server_side=True) as tls:
            data = tls.recv(4096)
            if tls.selected_alpn_protocol() == "h2":
                self._h2(tls, data)
                return
            if data.startswith(b"GET "):
                tls.sendall(b"HTTP/1.1 200 OK\r\nServer: tlstest\r\nContent-Length: %d\r\n"
                            b"Connection: close\r\n\r\n%s" % (len(PAGE), PAGE))


@contextlib.contextmanager
def tls_server(ctx: ssl.SSLContext, extra: str = "tls", h2: str = "ok",
               reset_all: bool = False) -> Iterator[TlsServer]:
    with TlsServer(ctx, extra, h2=h2, reset_all=reset_all) as s:
        yield s

