"""Raw ClientHello bytes and the server's first answer: real Python ssl servers answer
our hand-made hellos, and hostile or truncated answers never raise."""

from __future__ import annotations

import asyncio
import ssl
import struct
from pathlib import Path

import pytest

from netatlas.grab.codecs.tls_hello import (
    SSL3,
    TLS12,
    TLS13,
    WEAK_CLASSES,
    WEAK_SUITES,
    answer_complete,
    client_hello,
    parse_answer,
    weak_classes,
)

from .tlsserver import HOST, self_signed, server_context, tls_server

V = ssl.TLSVersion


async def ask(port: int, hello: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(hello)
        buf = b""
        async with asyncio.timeout(3):
            while not answer_complete(buf):
                chunk = await reader.read(4096)
                if not chunk:
                    break
                buf += chunk
        return buf
    finally:
        writer.transport.abort()


def test_hello_layout() -> None:
    h = client_hello(TLS12, [0x002F, 0xC02F], "www.lab.test")
    assert h[0] == 0x16 and struct.unpack("!H", h[1:3])[0] == 0x0301
    assert struct.unpack("!H", h[3:5])[0] == len(h) - 5
    assert h[5] == 0x01 and int.from_bytes(h[6:9], "big") == len(h) - 9
    assert struct.unpack("!H", h[9:11])[0] == TLS12
    assert b"www.lab.test" in h
    assert b"127.20" not in client_hello(TLS12, [0x002F], "127.20.16.1")  # no SNI for IPs
    ssl3 = client_hello(SSL3, [0x002F], extensions=False)
    assert struct.unpack("!H", ssl3[1:3])[0] == SSL3 and ssl3.endswith(b"\x01\x00")


def test_weak_table() -> None:
    assert {c for _, cls in WEAK_SUITES.values() for c in cls} == set(WEAK_CLASSES)
    assert weak_classes("DES-CBC3-SHA") == ("3DES",)
    assert weak_classes("ECDHE-RSA-AES128-GCM-SHA256") == ()
    assert weak_classes(None) == ()


def server_hello(version: int, cipher: int, ext: bytes = b"") -> bytes:
    body = struct.pack("!H", version) + bytes(32) + b"\x00" + struct.pack("!H", cipher) + b"\x00"
    if ext:
        body += struct.pack("!H", len(ext)) + ext
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs


def test_parse_answers() -> None:
    a = parse_answer(server_hello(TLS12, 0x000A))
    assert (a.kind, a.version_name, a.cipher_name) == ("hello", "TLSv1.2", "DES-CBC3-SHA")
    tls13 = parse_answer(server_hello(TLS12, 0x1301, b"\x00\x2b\x00\x02\x03\x04"))
    assert tls13.version == TLS13 and tls13.cipher_name == "0x1301"
    alert = parse_answer(b"\x15\x03\x03\x00\x02\x02\x28")
    assert (alert.kind, alert.alert) == ("alert", 40)


@pytest.mark.parametrize("data", [
    b"", b"\x16\x03", b"\x16\x03\x03\x00\x05\x02\x00", server_hello(TLS12, 1)[:30],
    b"\x16\x03\x03\x00\x04\x02\xff\xff\xff", b"HTTP/1.1 400 Bad Request\r\n",
    b"\x15\x03\x03\x00\x00", b"\x16\x03\x03\x00\x04\x0b\x00\x00\x00",
    server_hello(TLS12, 1, b"\x00\x2b\xff\xff"),  # an extension longer than its block
])
def test_parse_hostile_answers_never_raise(data: bytes) -> None:
    assert parse_answer(data).kind in ("incomplete", "other", "alert", "hello")


async def test_real_server_answers_raw_hellos(tmp_path: Path) -> None:
    ctx = server_context(*self_signed(tmp_path), low=V.TLSv1, high=V.TLSv1_3,
                         ciphers="ECDHE-RSA-AES128-GCM-SHA256:NULL-SHA:@SECLEVEL=0")
    with tls_server(ctx) as srv:
        ok = parse_answer(await ask(srv.port, client_hello(TLS12, [0x0002, 0xC02F])))
        assert ok.kind == "hello" and ok.version_name == "TLSv1.2"
        assert ok.cipher in (0x0002, 0xC02F)
        null = parse_answer(await ask(srv.port, client_hello(TLS12, [0x0002])))
        assert (null.kind, null.cipher_name) == ("hello", "NULL-SHA")
        none = parse_answer(await ask(srv.port, client_hello(TLS12, [0x000A, 0x0005])))
        assert none.kind == "alert" and none.alert == 40  # handshake_failure
        ssl3 = parse_answer(await ask(srv.port, client_hello(SSL3, [0x002F], extensions=False)))
        assert not (ssl3.kind == "hello" and ssl3.version == SSL3)


async def test_tls13_only_server_refuses_a_12_hello(tmp_path: Path) -> None:
    ctx = server_context(*self_signed(tmp_path), low=V.TLSv1_3)
    with tls_server(ctx) as srv:
        a = parse_answer(await ask(srv.port, client_hello(TLS12, [0xC02F, 0x002F])))
    assert a.kind == "alert" and a.alert == 70  # protocol_version
