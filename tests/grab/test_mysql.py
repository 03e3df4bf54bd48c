import struct

from netatlas.grab.engine.detect import classify_greeting
from netatlas.grab.protocols.mysql import is_handshake, parse_handshake


def handshake(version: bytes) -> bytes:
    caps = 0x000FF7FF | 0x80000  # includes CLIENT_PLUGIN_AUTH
    body = (
        b"\x0a"
        + version
        + b"\0"
        + struct.pack("<I", 77)
        + b"abcdefgh"
        + b"\0"
        + struct.pack("<H", caps & 0xFFFF)
        + b"\x2d"
        + struct.pack("<H", 2)
        + struct.pack("<H", caps >> 16)
        + b"\x15"
        + b"\0" * 10
        + b"ijklmnopqrst\0"
        + b"caching_sha2_password\0"
    )
    return len(body).to_bytes(3, "little") + b"\0" + body


def test_handshake() -> None:
    pkt = handshake(b"8.0.36-0ubuntu0.22.04.1")
    assert is_handshake(pkt) and classify_greeting(pkt) == "mysql"
    h = parse_handshake(pkt)
    assert h["server_version"] == "8.0.36-0ubuntu0.22.04.1" and h["connection_id"] == 77
    assert h["auth_plugin"] == "caching_sha2_password" and h["character_set"] == 0x2D


def test_error_packet() -> None:
    body = b"\xff" + struct.pack("<H", 1130) + b"Host '127.20.0.9' is not allowed"
    pkt = len(body).to_bytes(3, "little") + b"\0" + body
    assert parse_handshake(pkt) == {
        "error_code": 1130,
        "error_message": "Host '127.20.0.9' is not allowed",
    }
