"""RDP grabber: X.224 Connection Requests carrying RDP_NEG_REQ (MS-RDPBCGR 2.2.1.1), read
the Connection Confirm's RDP_NEG_RSP (the protocol the server picked) or RDP_NEG_FAILURE.
First we offer TLS | CredSSP (NLA) | RDSTLS; then, on fresh connections, standard RDP
security alone (accepted -> no NLA, the weak legacy crypto) and, if the server insists on
TLS, TLS alone (accepted -> NLA not required). If it picked TLS or CredSSP, one TLS
handshake on the first connection gives the certificate. No MCS, no login screen."""

from __future__ import annotations

import contextlib
import ssl
import struct
from typing import Any

from ..codecs.tpkt import connection_confirms, rdp_negotiation
from ..engine.conn import Conn
from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.registry import Protocol
from .tls import tls_section

RDP, SSL, HYBRID, RDSTLS, HYBRID_EX = 0, 1, 2, 4, 8
PROTOCOLS = {SSL: "SSL", HYBRID: "HYBRID", RDSTLS: "RDSTLS", HYBRID_EX: "HYBRID_EX"}
FIRST_REQUEST = SSL | HYBRID | RDSTLS
FAILURES = {
    1: "SSL_REQUIRED_BY_SERVER",
    2: "SSL_NOT_ALLOWED_BY_SERVER",
    3: "SSL_CERT_NOT_ON_SERVER",
    4: "INCONSISTENT_FLAGS",
    5: "HYBRID_REQUIRED_BY_SERVER",
    6: "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
}
RSP_FLAGS = {
    0x01: "EXTENDED_CLIENT_DATA_SUPPORTED",
    0x02: "DYNVC_GFX_PROTOCOL_SUPPORTED",
    0x08: "RESTRICTED_ADMIN_MODE_SUPPORTED",
    0x10: "REDIRECTED_AUTHENTICATION_MODE_SUPPORTED",
}
NLA_FAILURES = (5, 6)  # HYBRID_REQUIRED, SSL_WITH_USER_AUTH_REQUIRED
MAX_TPDU = 512  # a Connection Confirm is 19 bytes


def protocol_names(mask: int) -> list[str]:
    return [n for bit, n in PROTOCOLS.items() if mask & bit] or ["RDP"]


def protocol_name(value: int) -> str:
    return "RDP" if value == RDP else "|".join(protocol_names(value))


def connection_request(requested: int) -> bytes:
    """TPKT + X.224 CR TPDU + RDP_NEG_REQ (no routing token, no cookie)."""
    neg = struct.pack("<BBHI", 0x01, 0, 8, requested)
    x224 = bytes([6 + len(neg), 0xE0, 0, 0, 0, 0, 0]) + neg
    return struct.pack(">BBH", 3, 0, 4 + len(x224)) + x224


def tpkt_complete(buf: bytes) -> bool:
    if len(buf) < 4:
        return False
    if buf[0] != 3:
        return True  # not TPKT: stop reading, the parser says so
    return len(buf) >= struct.unpack_from(">H", buf, 2)[0]


def parse_confirm(buf: bytes) -> dict[str, Any]:
    """X.224 Connection Confirm -> {selected | failure, flags, x224_src_ref}; a
    disconnect is a refusal, not an error."""
    if len(buf) < 4 or buf[0] != 3 or buf[1] != 0:
        raise ProtocolError(f"not a TPKT: {buf[:8].hex()}")
    length = struct.unpack_from(">H", buf, 2)[0]
    if length < 7 or length > MAX_TPDU or len(buf) < length:
        raise ProtocolError(f"bad TPKT length {length}")
    li, code = buf[4], buf[5] & 0xF0
    if li + 5 > length:
        raise ProtocolError("X.224 header runs past the TPKT")
    if code == 0x80 or (code == 0xF0 and buf[7:9] == b"\x21\x80"):
        # DR, or data carrying MCS Disconnect-Provider-Ultimatum (what xrdp sends to a
        # request it dislikes): the server hung up on this request
        return {"disconnect": True}
    if code != 0xD0 or length < 11:
        raise ProtocolError(f"not an X.224 Connection Confirm (code {buf[5]:#x})")
    out: dict[str, Any] = {"x224_src_ref": f"0x{struct.unpack_from('>H', buf, 8)[0]:04x}"}
    if li < 14 or length < 19:
        out["selected"] = "RDP"  # no negotiation data: a pre-RDP-5.2 server, standard security
        out["selected_code"] = RDP
        out["negotiation"] = False
        return out
    kind, flags, nlen, value = struct.unpack_from("<BBHI", buf, 11)
    if nlen != 8:
        raise ProtocolError(f"RDP negotiation structure of length {nlen}")
    if kind == 0x02:
        out.update(selected=protocol_name(value), selected_code=value,
                   flags=[n for bit, n in RSP_FLAGS.items() if flags & bit],
                   rsp_flags=f"0x{flags:02x}")
        # One string for identification rules: implementations differ in these three.
        out["signature"] = f"{out['x224_src_ref']}/{out['rsp_flags']}/{out['selected']}"
    elif kind == 0x03:
        out.update(failure=FAILURES.get(value, f"unknown ({value})"), failure_code=value)
    else:
        raise ProtocolError(f"RDP negotiation type {kind:#x}")
    return out


async def _ask(ctx: GrabContext, requested: int, keep: bool = False
               ) -> tuple[dict[str, Any], bytes, Conn | None]:
    """One CR/CC exchange on a fresh connection; the connection is returned open only
    when ``keep`` (for the TLS handshake)."""
    conn = await ctx.open_plain()
    t = ctx.opts.read_timeout
    try:
        await conn.write(connection_request(requested), t)
        raw = await conn.read_until_done(tpkt_complete, MAX_TPDU, t)
        out = parse_confirm(raw)
    except BaseException:
        await conn.close()
        raise
    if keep:
        return out, raw, conn
    await conn.close()
    return out, raw, None


def _verdict(section: dict[str, Any], rdp_only: dict[str, Any] | None,
             ssl_only: dict[str, Any] | None) -> None:
    """standard_rdp / nla_required from the answers (left out: not learned)."""
    first_sel, first_fail = section.get("selected_code"), section.get("failure_code")
    if first_sel == RDP:
        section["standard_rdp"] = True
    elif rdp_only is not None:
        section["standard_rdp"] = rdp_only.get("selected_code") == RDP
        if rdp_only.get("failure"):
            section["standard_rdp_failure"] = rdp_only["failure"]
    if first_fail in NLA_FAILURES:
        section["nla_required"] = True
    elif section.get("standard_rdp") or first_sel == SSL:
        section["nla_required"] = False  # it took a protocol without CredSSP
    elif rdp_only is not None and rdp_only.get("failure_code") in NLA_FAILURES:
        section["nla_required"] = True
    elif ssl_only is not None and ssl_only.get("selected_code") == SSL:
        section["nla_required"] = False
    elif ssl_only is not None and ssl_only.get("failure_code") in NLA_FAILURES:
        section["nla_required"] = True


async def _tls(ctx: GrabContext, conn: Conn, section: dict[str, Any]) -> None:
    try:
        sslobj = await conn.start_tls(ctx.opts.read_timeout, ctx.opts.host_header, ())
    except (TimeoutError, ssl.SSLError, ConnectionError, OSError, ProtocolError) as e:
        section["tls_error"] = str(e)[:200] or type(e).__name__
        conn.abort()
        return
    # Not record_tls: that marks the endpoint as TLS from the first byte, and RDP's TLS
    # starts only after the X.224 exchange (like STARTTLS).
    ctx.result.sections["ssl"] = tls_section(sslobj)
    section["tls"] = True


async def probe(ctx: GrabContext) -> str:
    errors = (TimeoutError, ConnectionError, ssl.SSLError, OSError, ProtocolError)
    try:
        first, raw, conn = await _ask(ctx, FIRST_REQUEST, keep=True)
    except TimeoutError:
        return Outcome.SILENT
    except errors:
        return Outcome.NEGATIVE
    assert conn is not None
    section: dict[str, Any] = {"requested": protocol_names(FIRST_REQUEST), **first}
    try:
        if first.get("disconnect"):
            return Outcome.NEGATIVE  # a DR to a well-formed CR says little: not named RDP
        ctx.result.service = "ms-wbt-server"
        ctx.result.data = raw
        ctx.result.responses["RDPNegotiate"] = raw
        ctx.result.sections["rdp"] = section
        if first.get("selected_code") in (SSL, HYBRID, HYBRID_EX):
            await _tls(ctx, conn, section)
    finally:
        await conn.close()
    rdp_only = ssl_only = None
    if first.get("selected_code") != RDP and first.get("failure_code") not in NLA_FAILURES:
        with contextlib.suppress(*errors):
            rdp_only = (await _ask(ctx, RDP))[0]
        if (first.get("selected_code") in (HYBRID, HYBRID_EX) and rdp_only
                and rdp_only.get("failure_code") not in NLA_FAILURES):
            with contextlib.suppress(*errors):  # it picked CredSSP: would it take TLS alone?
                ssl_only = (await _ask(ctx, SSL))[0]
    _verdict(section, rdp_only, ssl_only)
    return Outcome.POSITIVE


def in_nmap_replies(replies: list[bytes]) -> int:
    """A COTP connection confirm carrying an RDP negotiation response is RDP first."""
    confirms = connection_confirms(replies)
    if any(rdp_negotiation(c) for c in confirms):
        return 2
    return 1 if confirms else 0


PROTOCOL = Protocol(name="rdp", ports=(3389,), probe=probe, nmap_replies=in_nmap_replies)
