"""SMB grabber: SMB2 NEGOTIATE (2.0.2 to 3.1.1, with 3.1.1's negotiate contexts) ->
dialect, signing, server GUID, capabilities, sizes, clock; SESSION_SETUP with an NTLMSSP
NEGOTIATE -> the CHALLENGE's names and OS version (nmap's smb2-* and ntlm-info); then ONE
anonymous AUTHENTICATE (null user, empty password) -> is a null/guest session granted?
Then LOGOFF. A separate SMB1 multi-protocol NEGOTIATE (SMB1 dialects only) tells whether
SMB1 is still enabled (and is all we learn from an SMB1-only server). No tree connect, no share
listing, nothing else. Port 139 gets a NetBIOS session request first."""

from __future__ import annotations

import contextlib
import os
import ssl
import struct
import uuid
from typing import Any

from ..codecs import ntlm
from ..engine.conn import Conn
from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol

MAX_MESSAGE = 64 * 1024  # a negotiate or session-setup reply is a few hundred bytes
SMB2_MAGIC = b"\xfeSMB"
SMB1_MAGIC = b"\xffSMB"
NEGOTIATE, SESSION_SETUP, LOGOFF = 0, 1, 2
DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
DIALECT_NAMES = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2",
                 0x0311: "3.1.1", 0x02FF: "2.x"}
CAPABILITIES = {0x01: "DFS", 0x02: "LEASING", 0x04: "LARGE_MTU", 0x08: "MULTI_CHANNEL",
                0x10: "PERSISTENT_HANDLES", 0x20: "DIRECTORY_LEASING", 0x40: "ENCRYPTION",
                0x80: "NOTIFICATIONS"}
CIPHERS = {1: "AES-128-CCM", 2: "AES-128-GCM", 3: "AES-256-CCM", 4: "AES-256-GCM"}
SIGNING_ALGS = {0: "HMAC-SHA256", 1: "AES-CMAC", 2: "AES-GMAC"}
STATUS = {
    0x00000000: "STATUS_SUCCESS",
    0xC0000016: "STATUS_MORE_PROCESSING_REQUIRED",
    0xC000006D: "STATUS_LOGON_FAILURE",
    0xC0000022: "STATUS_ACCESS_DENIED",
    0xC00000BB: "STATUS_NOT_SUPPORTED",
    0xC000000D: "STATUS_INVALID_PARAMETER",
    0xC0000072: "STATUS_ACCOUNT_DISABLED",
    0xC000015B: "STATUS_LOGON_TYPE_NOT_GRANTED",
    0xC0000002: "STATUS_NOT_IMPLEMENTED",
    0xC0000001: "STATUS_UNSUCCESSFUL",
}
SESSION_GUEST, SESSION_NULL, SESSION_ENCRYPT = 0x1, 0x2, 0x4
SMB1_SECURITY = {0x01: "user-level", 0x02: "challenge-response", 0x04: "signing-enabled",
                 0x08: "signing-required"}
# The multi-protocol negotiate's SMB1 dialects, oldest first (as smbclient and nmap offer).
SMB1_DIALECTS = (b"PC NETWORK PROGRAM 1.0", b"LANMAN1.0", b"Windows for Workgroups 3.1a",
                 b"LM1.2X002", b"LANMAN2.1", b"NT LM 0.12")


def status_name(code: int) -> str:
    return STATUS.get(code, f"0x{code:08X}")


# -- framing (RFC 1002 session message / direct TCP: 1 zero byte, 24-bit length) ----------

def frame(msg: bytes) -> bytes:
    return b"\x00" + len(msg).to_bytes(3, "big") + msg


def frame_complete(buf: bytes) -> bool:
    if len(buf) < 4:
        return False
    if buf[0] != 0:
        return True  # not a session message (a keepalive or garbage): stop, parse says so
    return len(buf) >= 4 + int.from_bytes(buf[1:4], "big")


def unframe(buf: bytes) -> bytes:
    if len(buf) < 4 or buf[0] != 0:
        raise ProtocolError(f"not an SMB session message: {buf[:8].hex()}")
    n = int.from_bytes(buf[1:4], "big")
    if n > MAX_MESSAGE:
        raise ProtocolError(f"SMB message of {n} bytes")
    if len(buf) < 4 + n:
        raise ProtocolError("truncated SMB message")
    return buf[4 : 4 + n]


def netbios_name(name: str, suffix: int = 0x20) -> bytes:
    """First-level encoding of a NetBIOS name (RFC 1001 14.1), as a 34-byte label."""
    raw = name.upper().encode("ascii")[:15].ljust(15, b" ") + bytes([suffix])
    return b"\x20" + bytes(c for b in raw for c in (0x41 + (b >> 4), 0x41 + (b & 0xF))) + b"\x00"


def session_request() -> bytes:
    """NetBIOS SESSION REQUEST to the generic *SMBSERVER name (port 139 needs it)."""
    body = netbios_name("*SMBSERVER") + netbios_name("NETATLAS", 0x00)
    return b"\x81\x00" + len(body).to_bytes(2, "big") + body


# -- SMB2 ----------------------------------------------------------------------------

def smb2_header(command: int, message_id: int, session_id: int = 0) -> bytes:
    return struct.pack("<4sHHIHHIIQIIQ16s", SMB2_MAGIC, 64, 0, 0, command, 31, 0, 0,
                       message_id, 0xFEFF, 0, session_id, b"\x00" * 16)


def _pad8(b: bytes) -> bytes:
    return b + b"\x00" * (-len(b) % 8)


def negotiate_request(client_guid: bytes | None = None, salt: bytes | None = None) -> bytes:
    """SMB2 NEGOTIATE offering 2.0.2..3.1.1, signing enabled, with the 3.1.1 contexts a
    server requires (pre-auth integrity) or looks at (encryption, signing algorithms)."""
    guid = client_guid or os.urandom(16)
    contexts = [
        (1, struct.pack("<HHH", 1, 32, 1) + (salt or os.urandom(32))),  # SHA-512
        (2, struct.pack("<HHHHH", 4, 2, 1, 4, 3)),  # ciphers
        (8, struct.pack("<HHHH", 3, 2, 1, 0)),  # signing algorithms
    ]
    dialects = b"".join(struct.pack("<H", d) for d in DIALECTS)
    ctx_offset = 64 + len(_pad8(b"\x00" * 36 + dialects))
    fixed = struct.pack("<HHHHI16sIHH", 36, len(DIALECTS), 1, 0, 0x7F, guid, ctx_offset,
                        len(contexts), 0)
    blob = b""
    for i, (ctype, data) in enumerate(contexts):
        item = struct.pack("<HHI", ctype, len(data), 0) + data
        blob += item if i == len(contexts) - 1 else _pad8(item)
    return frame(smb2_header(NEGOTIATE, 0) + _pad8(fixed + dialects) + blob)


def session_setup_request(token: bytes, message_id: int, session_id: int = 0) -> bytes:
    fixed = struct.pack("<HBBIIHHQ", 25, 0, 1, 0, 0, 64 + 24, len(token), 0)
    return frame(smb2_header(SESSION_SETUP, message_id, session_id) + fixed + token)


def logoff_request(message_id: int, session_id: int) -> bytes:
    return frame(smb2_header(LOGOFF, message_id, session_id) + struct.pack("<HH", 4, 0))


def parse_smb2_header(msg: bytes) -> dict[str, int]:
    if len(msg) < 64 or not msg.startswith(SMB2_MAGIC):
        raise ProtocolError(f"not an SMB2 message: {msg[:8].hex()}")
    status, command = struct.unpack_from("<IH", msg, 8)
    flags = struct.unpack_from("<I", msg, 16)[0]
    if not flags & 1:
        raise ProtocolError("SMB2 message is not a response")
    session_id = struct.unpack_from("<Q", msg, 40)[0]
    return {"status": status, "command": command, "session_id": session_id}


def _buffer(msg: bytes, offset: int, length: int) -> bytes:
    if length == 0:
        return b""
    if offset < 64 or offset + length > len(msg):
        raise ProtocolError("SMB2 buffer runs past the message")
    return msg[offset : offset + length]


def _contexts(msg: bytes, offset: int, count: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pos = offset
    for _ in range(min(count, 16)):
        if pos + 8 > len(msg):
            break
        ctype, dlen = struct.unpack_from("<HH", msg, pos)
        data = msg[pos + 8 : pos + 8 + dlen]
        if len(data) < dlen:
            break
        if ctype == 2 and len(data) >= 4:
            out["encryption_cipher"] = CIPHERS.get(struct.unpack_from("<H", data, 2)[0], "none")
        elif ctype == 8 and len(data) >= 4:
            alg = struct.unpack_from("<H", data, 2)[0]
            out["signing_algorithm"] = SIGNING_ALGS.get(alg, str(alg))
        elif ctype == 1 and len(data) >= 6:
            out["preauth_hash"] = "SHA-512" if struct.unpack_from("<H", data, 4)[0] == 1 else "?"
        pos += 8 + dlen
        pos += -pos % 8
    return out


def parse_negotiate_response(msg: bytes) -> dict[str, Any]:
    """SMB2 NEGOTIATE response (after the 4-byte framing) -> the "smb" section's facts."""
    head = parse_smb2_header(msg)
    if head["command"] != NEGOTIATE:
        raise ProtocolError(f"SMB2 command {head['command']} is not NEGOTIATE")
    if head["status"] != 0:
        raise ProtocolError(f"SMB2 NEGOTIATE failed: {status_name(head['status'])}")
    if len(msg) < 128:
        raise ProtocolError("truncated SMB2 NEGOTIATE response")
    (size, secmode, dialect, ctx_count, guid, caps, max_tx, max_rd, max_wr, systime,
     start, sb_off, sb_len, ctx_off) = struct.unpack_from("<HHHH16sIIIIQQHHI", msg, 64)
    if size != 65:
        raise ProtocolError(f"SMB2 NEGOTIATE response of structure size {size}")
    out: dict[str, Any] = {
        "protocol": "SMB2",
        "dialect": DIALECT_NAMES.get(dialect, f"0x{dialect:04x}"),
        "dialect_code": dialect,
        "signing_enabled": bool(secmode & 1),
        "signing_required": bool(secmode & 2),
        "server_guid": str(uuid.UUID(bytes_le=guid)),
        "capabilities": [n for bit, n in CAPABILITIES.items() if caps & bit],
        "capabilities_raw": caps,
        "max_transact_size": max_tx,
        "max_read_size": max_rd,
        "max_write_size": max_wr,
        "system_time": ntlm.filetime(systime),
        "server_start_time": ntlm.filetime(start),
    }
    blob = _buffer(msg, sb_off, sb_len)
    if blob:
        out["security_mechanisms"] = ntlm.spnego_mechs(blob)
    if dialect == 0x0311 and ctx_count:
        out.update(_contexts(msg, ctx_off, ctx_count))
    return out


def parse_session_setup(msg: bytes) -> tuple[dict[str, int], int, bytes]:
    """-> (header, session flags, security blob) of a SESSION_SETUP response; an error
    response (status other than success / more processing) has flags 0 and no blob."""
    head = parse_smb2_header(msg)
    if head["command"] != SESSION_SETUP:
        raise ProtocolError(f"SMB2 command {head['command']} is not SESSION_SETUP")
    if head["status"] not in (0, 0xC0000016):
        return head, 0, b""
    if len(msg) < 72:
        raise ProtocolError("truncated SMB2 SESSION_SETUP response")
    size, flags, sb_off, sb_len = struct.unpack_from("<HHHH", msg, 64)
    if size != 9:
        raise ProtocolError(f"SMB2 SESSION_SETUP response of structure size {size}")
    return head, flags, _buffer(msg, sb_off, sb_len)


def session_verdict(head: dict[str, int], flags: int) -> dict[str, Any]:
    granted = head["status"] == 0
    out: dict[str, Any] = {"status": status_name(head["status"]), "granted": granted}
    if granted:
        out["flags"] = [n for bit, n in ((SESSION_GUEST, "guest"), (SESSION_NULL, "null"),
                                         (SESSION_ENCRYPT, "encrypt_data")) if flags & bit]
    return out


# -- SMB1 ----------------------------------------------------------------------------

def smb1_negotiate_request(dialects: tuple[bytes, ...] = SMB1_DIALECTS) -> bytes:
    """SMB_COM_NEGOTIATE, Unicode + NT status, no extended security (so the reply names
    the domain and server, as nmap's smb-os-discovery asks)."""
    header = struct.pack("<4sBIBHH8sHHHHH", SMB1_MAGIC, 0x72, 0, 0x18, 0xC001, 0, b"\x00" * 8,
                         0, 0xFFFF, 0xFEFF, 0, 0)
    data = b"".join(b"\x02" + d + b"\x00" for d in dialects)
    return frame(header + b"\x00" + struct.pack("<H", len(data)) + data)


def _utf16_strings(raw: bytes, n: int) -> list[str]:
    out: list[str] = []
    pos = 0
    while len(out) < n and pos < len(raw):
        end = pos
        while end + 1 < len(raw) and raw[end : end + 2] != b"\x00\x00":
            end += 2
        out.append(raw[pos:end].decode("utf-16-le", errors="replace")[:256])
        pos = end + 2
    return out


def parse_smb1_negotiate(msg: bytes) -> dict[str, Any]:
    """SMB1 NEGOTIATE response (to SMB1_DIALECTS) -> whether an SMB1 dialect was
    accepted, which, and the NT LM 0.12 reply's facts."""
    if len(msg) < 35 or not msg.startswith(SMB1_MAGIC):
        raise ProtocolError(f"not an SMB1 message: {msg[:8].hex()}")
    if msg[4] != 0x72:
        raise ProtocolError(f"SMB1 command {msg[4]:#x} is not NEGOTIATE")
    status = struct.unpack_from("<I", msg, 5)[0]
    flags2 = struct.unpack_from("<H", msg, 10)[0]
    words = msg[32]
    if status != 0 or words == 0:
        return {"accepted": False, "status": status_name(status)}
    index = struct.unpack_from("<H", msg, 33)[0]
    if index == 0xFFFF:
        return {"accepted": False}
    name = SMB1_DIALECTS[index].decode() if index < len(SMB1_DIALECTS) else f"#{index}"
    out: dict[str, Any] = {"accepted": True, "dialect": name}
    if words != 17 or len(msg) < 33 + 34 + 2:
        return out  # a pre-NT dialect's reply: accepted, nothing more we read
    (_idx, secmode, _mpx, _vcs, max_buf, _raw, _key, caps, systime, _tz,
     chal_len) = struct.unpack_from("<HBHHIIIIQhB", msg, 33)
    out.update({
        "signing_enabled": bool(secmode & 0x04),
        "signing_required": bool(secmode & 0x08),
        "security_mode": [n for bit, n in SMB1_SECURITY.items() if secmode & bit],
        "capabilities_raw": caps,
        "max_buffer_size": max_buf,
        "system_time": ntlm.filetime(systime),
    })
    count = struct.unpack_from("<H", msg, 67)[0]
    data = msg[69 : 69 + count]
    if caps & 0x80000000:  # extended security: server GUID + SPNEGO blob
        if len(data) >= 16:
            out["server_guid"] = str(uuid.UUID(bytes_le=data[:16]))
            out["security_mechanisms"] = ntlm.spnego_mechs(data[16:])
    elif flags2 & 0x8000:
        names = _utf16_strings(data[chal_len:], 2)
        for key, value in zip(("domain", "server"), names, strict=False):
            if value:
                out[key] = value
    return out


# -- sockets ---------------------------------------------------------------------------

async def _open(ctx: GrabContext) -> Conn:
    conn = await ctx.open()
    if ctx.ep.port == 139:
        await conn.write(session_request(), ctx.opts.read_timeout)
        reply = await conn.read_until_done(lambda b: len(b) >= 4, 64, ctx.opts.read_timeout)
        if not reply.startswith(b"\x82"):
            await conn.close()
            raise ProtocolError(f"NetBIOS session refused: {reply[:8].hex()}")
    return conn


async def _ask(conn: Conn, request: bytes, t: float) -> bytes:
    await conn.write(request, t)
    return unframe(await conn.read_until_done(frame_complete, MAX_MESSAGE + 4, t))


async def _session(conn: Conn, t: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """NTLM challenge facts, then the anonymous attempt's verdict (logged off if granted)."""
    token = ntlm.spnego_init(ntlm.negotiate_message())
    head, _flags, blob = parse_session_setup(await _ask(conn, session_setup_request(token, 1), t))
    if head["status"] != 0xC0000016:
        return {}, {"status": status_name(head["status"]), "granted": False}
    challenge = ntlm.find_challenge(blob)
    info = ntlm.parse_challenge(challenge)
    auth = ntlm.spnego_response(ntlm.anonymous_authenticate(info.pop("flags")))
    sid = head["session_id"]
    head, flags, _ = parse_session_setup(await _ask(conn, session_setup_request(auth, 2, sid), t))
    verdict = session_verdict(head, flags)
    if verdict["granted"]:
        with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError, OSError,
                                 ProtocolError):
            await _ask(conn, logoff_request(3, sid), min(t, 1.0))
    return info, verdict


async def _smb1(ctx: GrabContext) -> tuple[dict[str, Any] | None, bytes]:
    """SMB1 negotiate on a fresh connection -> (facts or None if refused, raw reply)."""
    try:
        conn = await _open(ctx)
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError, ProtocolError):
        return None, b""
    raw = b""
    try:
        await conn.write(smb1_negotiate_request(), ctx.opts.read_timeout)
        raw = await conn.read_until_done(frame_complete, MAX_MESSAGE + 4, ctx.opts.read_timeout)
        return parse_smb1_negotiate(unframe(raw)), raw
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError, ProtocolError):
        return None, raw
    finally:
        await conn.close()


async def probe(ctx: GrabContext) -> str:
    t = ctx.opts.read_timeout
    try:
        conn = await _open(ctx)
    except TimeoutError:
        return Outcome.SILENT  # silent to the NetBIOS session request
    except (ProtocolError, ConnectionError, ssl.SSLError, OSError):
        return Outcome.NEGATIVE
    section: dict[str, Any] | None = None
    try:
        try:
            await conn.write(negotiate_request(), t)
            raw = await conn.read_until_done(frame_complete, MAX_MESSAGE + 4, t)
        except TimeoutError:
            return Outcome.SILENT
        except (ConnectionError, ssl.SSLError, OSError):
            raw = b""
        with contextlib.suppress(ProtocolError):
            section = parse_negotiate_response(unframe(raw))
        if section is not None:
            ctx.result.responses["SMBv2Negotiate"] = raw[: ctx.opts.max_bytes]
            with contextlib.suppress(TimeoutError, ConnectionError, ssl.SSLError, OSError):
                try:
                    info, verdict = await _session(conn, t)
                    if info:
                        section["ntlm"] = info
                    section["session"] = verdict
                    section["null_session"] = verdict["granted"]
                except ProtocolError as e:
                    section["session_error"] = str(e)[:200]
    finally:
        await conn.close()
    if section is None and raw and raw[0] != 0:
        return Outcome.NEGATIVE  # not even a session message: no SMB1 server either
    smb1, raw1 = await _smb1(ctx)
    if section is None:
        if not smb1 or not smb1.get("accepted"):
            return Outcome.NEGATIVE
        section = {"protocol": "SMB1", **{k: v for k, v in smb1.items() if k != "accepted"}}
    section["smb1"] = bool(smb1 and smb1.get("accepted"))
    if smb1 and smb1.get("accepted"):
        section["smb1_dialect"] = smb1.get("dialect")
        if section["protocol"] == "SMB2":  # the SMB1 reply's own facts (domain, names)
            section["smb1_negotiate"] = {k: v for k, v in smb1.items() if k != "accepted"}
    if raw1:
        ctx.result.responses["SMBv1Negotiate"] = raw1[: ctx.opts.max_bytes]
    ctx.result.service = "netbios-ssn" if ctx.ep.port == 139 else "microsoft-ds"
    ctx.result.data = (raw if section["protocol"] == "SMB2" else raw1)[: ctx.opts.max_bytes]
    ctx.result.sections["smb"] = section
    return Outcome.POSITIVE


PROTOCOL = Protocol(name="smb", ports=(445, 139), probe=probe,
                    nmap_names=("netbios-ssn", "microsoft-ds"))
