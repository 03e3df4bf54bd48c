"""Raw TLS ClientHello bytes and the first answer a server gives them (sans-IO).

Used where this machine's OpenSSL cannot offer what we must ask about: SSLv3 (compiled
out) and the weak cipher classes (3DES, RC4, DES, EXPORT are gone from OpenSSL 3 as
Debian builds it). One hello, one ServerHello or alert back: nothing past that is sent,
so no key exchange with a weak suite ever completes.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from ..engine.conn import sni_for

SSL3, TLS10, TLS11, TLS12, TLS13 = 0x0300, 0x0301, 0x0302, 0x0303, 0x0304
VERSION_NAMES = {SSL3: "SSLv3", TLS10: "TLSv1", TLS11: "TLSv1.1", TLS12: "TLSv1.2",
                 TLS13: "TLSv1.3"}
MAX_ANSWER = 16 * 1024  # a ServerHello is ~100 bytes; its first record is enough

# Weak suites by IANA id: OpenSSL's name and the classes the suite belongs to. A suite
# can be in several (ADH-RC4-MD5 is anonymous and RC4).
WEAK_SUITES: dict[int, tuple[str, tuple[str, ...]]] = {
    0x0001: ("NULL-MD5", ("NULL",)),
    0x0002: ("NULL-SHA", ("NULL",)),
    0x003B: ("NULL-SHA256", ("NULL",)),
    0xC001: ("ECDH-ECDSA-NULL-SHA", ("NULL",)),
    0xC006: ("ECDHE-ECDSA-NULL-SHA", ("NULL",)),
    0xC00B: ("ECDH-RSA-NULL-SHA", ("NULL",)),
    0xC010: ("ECDHE-RSA-NULL-SHA", ("NULL",)),
    0xC015: ("AECDH-NULL-SHA", ("NULL", "anonymous")),
    0x0003: ("EXP-RC4-MD5", ("EXPORT", "RC4")),
    0x0006: ("EXP-RC2-CBC-MD5", ("EXPORT",)),
    0x0008: ("EXP-DES-CBC-SHA", ("EXPORT", "DES")),
    0x000B: ("EXP-DH-DSS-DES-CBC-SHA", ("EXPORT", "DES")),
    0x000E: ("EXP-DH-RSA-DES-CBC-SHA", ("EXPORT", "DES")),
    0x0011: ("EXP-EDH-DSS-DES-CBC-SHA", ("EXPORT", "DES")),
    0x0014: ("EXP-EDH-RSA-DES-CBC-SHA", ("EXPORT", "DES")),
    0x0017: ("EXP-ADH-RC4-MD5", ("EXPORT", "RC4", "anonymous")),
    0x0019: ("EXP-ADH-DES-CBC-SHA", ("EXPORT", "DES", "anonymous")),
    0x0062: ("EXP1024-DES-CBC-SHA", ("EXPORT", "DES")),
    0x0063: ("EXP1024-DHE-DSS-DES-CBC-SHA", ("EXPORT", "DES")),
    0x0064: ("EXP1024-RC4-SHA", ("EXPORT", "RC4")),
    0x0065: ("EXP1024-DHE-DSS-RC4-SHA", ("EXPORT", "RC4")),
    0x0004: ("RC4-MD5", ("RC4",)),
    0x0005: ("RC4-SHA", ("RC4",)),
    0x0066: ("DHE-DSS-RC4-SHA", ("RC4",)),
    0xC002: ("ECDH-ECDSA-RC4-SHA", ("RC4",)),
    0xC007: ("ECDHE-ECDSA-RC4-SHA", ("RC4",)),
    0xC00C: ("ECDH-RSA-RC4-SHA", ("RC4",)),
    0xC011: ("ECDHE-RSA-RC4-SHA", ("RC4",)),
    0x0018: ("ADH-RC4-MD5", ("RC4", "anonymous")),
    0xC016: ("AECDH-RC4-SHA", ("RC4", "anonymous")),
    0x0009: ("DES-CBC-SHA", ("DES",)),
    0x000C: ("DH-DSS-DES-CBC-SHA", ("DES",)),
    0x000F: ("DH-RSA-DES-CBC-SHA", ("DES",)),
    0x0012: ("EDH-DSS-DES-CBC-SHA", ("DES",)),
    0x0015: ("EDH-RSA-DES-CBC-SHA", ("DES",)),
    0x001A: ("ADH-DES-CBC-SHA", ("DES", "anonymous")),
    0x000A: ("DES-CBC3-SHA", ("3DES",)),
    0x000D: ("DH-DSS-DES-CBC3-SHA", ("3DES",)),
    0x0010: ("DH-RSA-DES-CBC3-SHA", ("3DES",)),
    0x0013: ("EDH-DSS-DES-CBC3-SHA", ("3DES",)),
    0x0016: ("EDH-RSA-DES-CBC3-SHA", ("3DES",)),
    0xC003: ("ECDH-ECDSA-DES-CBC3-SHA", ("3DES",)),
    0xC008: ("ECDHE-ECDSA-DES-CBC3-SHA", ("3DES",)),
    0xC00D: ("ECDH-RSA-DES-CBC3-SHA", ("3DES",)),
    0xC012: ("ECDHE-RSA-DES-CBC3-SHA", ("3DES",)),
    0x001B: ("ADH-DES-CBC3-SHA", ("3DES", "anonymous")),
    0xC017: ("AECDH-DES-CBC3-SHA", ("3DES", "anonymous")),
    0x0034: ("ADH-AES128-SHA", ("anonymous",)),
    0x003A: ("ADH-AES256-SHA", ("anonymous",)),
    0x006C: ("ADH-AES128-SHA256", ("anonymous",)),
    0x006D: ("ADH-AES256-SHA256", ("anonymous",)),
    0x00A6: ("ADH-AES128-GCM-SHA256", ("anonymous",)),
    0x00A7: ("ADH-AES256-GCM-SHA384", ("anonymous",)),
    0x0046: ("ADH-CAMELLIA128-SHA", ("anonymous",)),
    0x0089: ("ADH-CAMELLIA256-SHA", ("anonymous",)),
    0xC018: ("AECDH-AES128-SHA", ("anonymous",)),
    0xC019: ("AECDH-AES256-SHA", ("anonymous",)),
}
WEAK_CLASSES = ("NULL", "anonymous", "EXPORT", "RC4", "DES", "3DES")
_WEAK_BY_NAME = {name: classes for name, classes in WEAK_SUITES.values()}

# What an SSLv3 server of any age would pick from: the common RSA/DHE suites.
SSL3_SUITES = (0x0035, 0x002F, 0x0039, 0x0033, 0x000A, 0x0016, 0x0005, 0x0004, 0x0009)
_GROUPS = (0x001D, 0x0017, 0x0018, 0x0019, 0x0100)  # x25519, P-256/384/521, ffdhe2048
_SIG_ALGS = (0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
             0x0203, 0x0201, 0x0402, 0x0202)


def weak_classes(cipher_name: str | None) -> tuple[str, ...]:
    """The weak classes of an OpenSSL-named suite (the one a real handshake chose)."""
    return _WEAK_BY_NAME.get(cipher_name or "", ())


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def _u16s(values: tuple[int, ...] | list[int]) -> bytes:
    return b"".join(struct.pack("!H", v) for v in values)


def client_hello(version: int, suites: list[int] | tuple[int, ...],
                 hostname: str | None = None, extensions: bool = True) -> bytes:
    """One TLS record holding a ClientHello that offers ``suites`` at ``version``
    (no supported_versions: a TLS 1.3 server must answer at 1.2 or refuse)."""
    exts = b""
    if extensions:
        sni = sni_for(hostname)
        if sni:
            name = sni.encode("idna")
            entry = b"\x00" + struct.pack("!H", len(name)) + name
            exts += _ext(0x0000, struct.pack("!H", len(entry)) + entry)
        exts += _ext(0x000A, struct.pack("!H", 2 * len(_GROUPS)) + _u16s(_GROUPS))
        exts += _ext(0x000B, b"\x01\x00")
        exts += _ext(0x000D, struct.pack("!H", 2 * len(_SIG_ALGS)) + _u16s(_SIG_ALGS))
        exts += _ext(0xFF01, b"\x00")  # renegotiation_info, empty: some servers want it
    body = (struct.pack("!H", version) + os.urandom(32) + b"\x00"
            + struct.pack("!H", 2 * len(suites)) + _u16s(list(suites)) + b"\x01\x00")
    if exts:
        body += struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    record_version = min(version, TLS10)  # the record layer says 1.0 for compatibility
    return b"\x16" + struct.pack("!HH", record_version, len(hs)) + hs


@dataclass(frozen=True, slots=True)
class ServerAnswer:
    """What the server said to one hello: a ServerHello, an alert, or neither."""

    kind: str  # "hello" | "alert" | "other" | "incomplete"
    version: int | None = None
    cipher: int | None = None
    alert: int | None = None  # TLS alert description (40 handshake_failure, 70 protocol)

    @property
    def version_name(self) -> str | None:
        return VERSION_NAMES.get(self.version or -1)

    @property
    def cipher_name(self) -> str | None:
        if self.cipher is None:
            return None
        known = WEAK_SUITES.get(self.cipher)
        return known[0] if known else f"0x{self.cipher:04X}"


def answer_complete(data: bytes) -> bool:
    """Enough bytes to judge: the first record whole, or any non-TLS byte up front."""
    if len(data) < 5:
        return False
    if data[0] not in (0x15, 0x16):
        return True
    return len(data) >= 5 + struct.unpack("!H", data[3:5])[0]


def parse_answer(data: bytes) -> ServerAnswer:
    """The first record of the server's reply (hostile bytes: every length checked)."""
    if len(data) < 5:
        return ServerAnswer("incomplete")
    ctype, length = data[0], struct.unpack("!H", data[3:5])[0]
    rec = data[5 : 5 + length]
    if ctype == 0x15:
        return ServerAnswer("alert", alert=rec[1]) if len(rec) >= 2 else ServerAnswer(
            "incomplete")
    if ctype != 0x16:
        return ServerAnswer("other")
    if len(rec) < 4:
        return ServerAnswer("incomplete")
    if rec[0] != 0x02:
        return ServerAnswer("other")
    hs = rec[4 : 4 + int.from_bytes(rec[1:4], "big")]
    # version(2) random(32) sid_len(1) sid cipher(2) compression(1) [extensions]
    if len(hs) < 35 or len(hs) < 35 + hs[34] + 3:
        return ServerAnswer("incomplete")
    version = struct.unpack("!H", hs[0:2])[0]
    pos = 35 + hs[34]
    cipher = struct.unpack("!H", hs[pos : pos + 2])[0]
    pos += 3
    if len(hs) >= pos + 2:  # a TLS 1.3 ServerHello names its version in an extension
        end = min(len(hs), pos + 2 + struct.unpack("!H", hs[pos : pos + 2])[0])
        pos += 2
        while pos + 4 <= end:
            kind, n = struct.unpack("!HH", hs[pos : pos + 4])
            if kind == 0x002B and n == 2 and pos + 6 <= end:
                version = struct.unpack("!H", hs[pos + 4 : pos + 6])[0]
            pos += 4 + n
    return ServerAnswer("hello", version=version, cipher=cipher)
