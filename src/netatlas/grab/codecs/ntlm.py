"""NTLMSSP and the SPNEGO wrapping SMB carries it in (sans-IO): the NEGOTIATE we send,
the server's CHALLENGE (target info names, timestamp, OS version: what nmap's ntlm-info
shows) and one anonymous AUTHENTICATE (null user, empty password, MS-NLMP 3.1.5.1.2).
No password is ever hashed here: anonymous needs none."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from ..engine.errors import ProtocolError

SIGNATURE = b"NTLMSSP\x00"
NTLMSSP_OID = b"\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"  # 1.3.6.1.4.1.311.2.2.10
SPNEGO_OID = b"\x06\x06\x2b\x06\x01\x05\x05\x02"  # 1.3.6.1.5.5.2
MECHS = {  # DER OIDs a server's negTokenInit may offer
    "NTLMSSP": NTLMSSP_OID[2:],
    "Kerberos": b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02",  # 1.2.840.113554.1.2.2
    "MS Kerberos": b"\x2a\x86\x48\x82\xf7\x12\x01\x02\x02",  # 1.2.840.48018.1.2.2
    "NegoEx": b"\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x1e",  # 1.3.6.1.4.1.311.2.2.30
    "Kerberos U2U": b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x03",
}

# NegotiateFlags (MS-NLMP 2.2.2.5)
UNICODE = 0x00000001
OEM = 0x00000002
REQUEST_TARGET = 0x00000004
NTLM = 0x00000200
ANONYMOUS = 0x00000800
ALWAYS_SIGN = 0x00008000
EXTENDED_SESSIONSECURITY = 0x00080000
TARGET_INFO = 0x00800000
VERSION = 0x02000000
F128 = 0x20000000
F56 = 0x80000000
# No SIGN/SEAL/KEY_EXCH: an anonymous session has no key to sign or seal with.
CLIENT_FLAGS = (UNICODE | OEM | REQUEST_TARGET | NTLM | ALWAYS_SIGN | EXTENDED_SESSIONSECURITY
                | VERSION | F128 | F56)

AV_NAMES = {
    1: "netbios_computer",
    2: "netbios_domain",
    3: "dns_computer",
    4: "dns_domain",
    5: "dns_tree",
}
MAX_AV_PAIRS = 32
FILETIME_EPOCH = 116444736000000000  # 1601-01-01 -> 1970-01-01 in 100 ns ticks


def filetime(ticks: int) -> str | None:
    """A Windows FILETIME as ISO 8601 UTC; None for zero or an absurd value."""
    if ticks <= 0:
        return None
    try:
        t = datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=ticks // 10)
    except OverflowError:
        return None
    if not 1980 <= t.year <= 2200:
        return None
    return t.isoformat().replace("+00:00", "Z")


# -- DER, just enough for SPNEGO ---------------------------------------------------------

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(value)) + value


def spnego_init(token: bytes) -> bytes:
    """GSS-API InitialContextToken: SPNEGO negTokenInit offering NTLMSSP with ``token``."""
    mech_types = _tlv(0xA0, _tlv(0x30, NTLMSSP_OID))
    mech_token = _tlv(0xA2, _tlv(0x04, token))
    return _tlv(0x60, SPNEGO_OID + _tlv(0xA0, _tlv(0x30, mech_types + mech_token)))


def spnego_response(token: bytes) -> bytes:
    """negTokenResp carrying ``token`` (the AUTHENTICATE message)."""
    return _tlv(0xA1, _tlv(0x30, _tlv(0xA2, _tlv(0x04, token))))


def spnego_mechs(blob: bytes) -> list[str]:
    """Mechanisms a negTokenInit offers, by spotting their OIDs (tolerant of odd DER)."""
    found = []
    for name, oid in MECHS.items():
        if b"\x06" + bytes([len(oid)]) + oid in blob:
            found.append(name)
    return found


# -- NTLMSSP -----------------------------------------------------------------------------

def negotiate_message() -> bytes:
    """Type 1: our flags, no domain or workstation, a version field of zeros."""
    return SIGNATURE + struct.pack("<II", 1, CLIENT_FLAGS) + b"\x00" * 16 + b"\x00" * 8


def _field(msg: bytes, at: int) -> bytes:
    """The payload a (len, maxlen, offset) field at ``at`` points to, bounds-checked."""
    if at + 8 > len(msg):
        raise ProtocolError("NTLMSSP field header runs past the message")
    length, _max, offset = struct.unpack_from("<HHI", msg, at)
    if length == 0:
        return b""
    if offset + length > len(msg):
        raise ProtocolError("NTLMSSP field runs past the message")
    return msg[offset : offset + length]


def _text(raw: bytes, unicode: bool) -> str:
    s = raw.decode("utf-16-le" if unicode else "latin-1", errors="replace")
    return s.replace("\x00", "")[:256]


def find_challenge(blob: bytes) -> bytes:
    """The NTLMSSP CHALLENGE inside a security blob (raw or SPNEGO-wrapped)."""
    i = blob.find(SIGNATURE + b"\x02\x00\x00\x00")
    if i < 0:
        raise ProtocolError("no NTLMSSP CHALLENGE in the security blob")
    return blob[i:]


def parse_challenge(msg: bytes) -> dict[str, Any]:
    """Type 2 -> target name, flags, OS version and the target info pairs."""
    if len(msg) < 32 or not msg.startswith(SIGNATURE):
        raise ProtocolError("not an NTLMSSP message")
    if struct.unpack_from("<I", msg, 8)[0] != 2:
        raise ProtocolError("not an NTLMSSP CHALLENGE")
    flags = struct.unpack_from("<I", msg, 20)[0]
    unicode = bool(flags & UNICODE)
    out: dict[str, Any] = {"flags": flags}
    target = _text(_field(msg, 12), unicode)
    if target:
        out["target_name"] = target
    # The optional fields exist only when the payload starts after them.
    first_payload = min(
        (off for at in (12, 40) if at + 8 <= len(msg)
         for ln, _m, off in [struct.unpack_from("<HHI", msg, at)] if ln), default=len(msg))
    if len(msg) >= 48 and first_payload >= 48:
        for av_id, value in av_pairs(_field(msg, 40)):
            if av_id in AV_NAMES:
                out[AV_NAMES[av_id]] = _text(value, True)
            elif av_id == 7 and len(value) == 8:
                stamp = filetime(struct.unpack("<Q", value)[0])
                if stamp:
                    out["timestamp"] = stamp
    if flags & VERSION and len(msg) >= 56 and first_payload >= 56:
        major, minor, build = struct.unpack_from("<BBH", msg, 48)
        out["os_version"] = f"{major}.{minor}.{build}"
        out["os_major"], out["os_minor"], out["os_build"] = major, minor, build
        out["ntlm_revision"] = msg[55]
    return out


def av_pairs(info: bytes) -> list[tuple[int, bytes]]:
    """AV_PAIRs up to MsvAvEOL; a pair running past the data ends the list."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos + 4 <= len(info) and len(out) < MAX_AV_PAIRS:
        av_id, av_len = struct.unpack_from("<HH", info, pos)
        if av_id == 0 or pos + 4 + av_len > len(info):
            break
        out.append((av_id, info[pos + 4 : pos + 4 + av_len]))
        pos += 4 + av_len
    return out


def anonymous_authenticate(challenge_flags: int) -> bytes:
    """Type 3 for the anonymous user: LmChallengeResponse Z(1), everything else empty."""
    flags = (challenge_flags & CLIENT_FLAGS) | ANONYMOUS
    header_len = 72  # fixed fields + version (we keep VERSION so the layout is the usual)
    lm = b"\x00"
    fields = struct.pack("<HHI", len(lm), len(lm), header_len)  # LM response
    for _ in range(5):  # NT response, domain, user, workstation, session key: all empty
        fields += struct.pack("<HHI", 0, 0, header_len + len(lm))
    return (SIGNATURE + struct.pack("<I", 3) + fields + struct.pack("<I", flags | VERSION)
            + b"\x00" * 8 + lm)
