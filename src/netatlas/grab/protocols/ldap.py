"""LDAP grabber: one anonymous search of the root DSE (base "", scope base) -- no bind,
which LDAPv3 servers treat as anonymous -- then Unbind. Then one anonymous one-level
search below the first naming context, names only (attribute "1.1", at most
``READ_LIMIT`` entries), as ``ldapsearch -x -s one -z 5 -b <context> 1.1`` would: are
entries readable without a bind, beyond the root DSE? BER is decoded defensively:
definite lengths only, every length checked against what is left, nesting bounded."""

from __future__ import annotations

from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.errors import ProtocolError
from ..engine.exchange import exchange
from ..engine.registry import Protocol

MAX_MSG = 256 * 1024
MAX_READ_REPLY = 16 * 1024
READ_LIMIT = 5  # entries asked for in the anonymous read test
MAX_VALUES = 64
MAX_ATTRS = 128
ROOT_ATTRS = (
    "*",
    "+",
    "namingContexts",
    "supportedLDAPVersion",
    "supportedSASLMechanisms",
    "supportedExtension",
    "supportedControl",
    "vendorName",
    "vendorVersion",
    "subschemaSubentry",
    "defaultNamingContext",
    "dnsHostName",
    "serverName",
    "domainFunctionality",
    "forestFunctionality",
)
UNBIND = b"\x30\x05\x02\x01\x02\x42\x00"
RESULT_CODES = {
    0: "success",
    1: "operationsError",
    2: "protocolError",
    3: "timeLimitExceeded",
    4: "sizeLimitExceeded",
    7: "authMethodNotSupported",
    8: "strongerAuthRequired",
    32: "noSuchObject",
    48: "inappropriateAuthentication",
    49: "invalidCredentials",
    50: "insufficientAccessRights",
    52: "unavailable",
    53: "unwillingToPerform",
}


# -- BER -----------------------------------------------------------------------


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _len(len(value)) + value


def header(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    """-> (tag, value start, value end) of the TLV at ``pos``; ProtocolError if the
    header is malformed or the value runs past ``buf``."""
    if pos + 2 > len(buf):
        raise ProtocolError("truncated BER header")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ProtocolError("multi-byte BER tags are not LDAP")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        k = first & 0x7F
        if k == 0 or k > 4:
            raise ProtocolError("indefinite or oversized BER length")
        if pos + k > len(buf):
            raise ProtocolError("truncated BER length")
        length = int.from_bytes(buf[pos : pos + k], "big")
        pos += k
    if pos + length > len(buf):
        raise ProtocolError("BER value runs past the data")
    return tag, pos, pos + length


def children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    pos = start
    while pos < end:
        tag, s, e = header(buf[:end], pos)
        out.append((tag, s, e))
        pos = e
        if len(out) > 4096:
            raise ProtocolError("too many BER elements")
    return out


def _int(raw: bytes) -> int:
    if not 1 <= len(raw) <= 8:
        raise ProtocolError("bad BER integer")
    return int.from_bytes(raw, "big", signed=True)


# -- LDAP ------------------------------------------------------------------------


def search_request(msgid: int = 1) -> bytes:
    """SearchRequest: base "", scope baseObject, (objectClass=*), 10 s server limit."""
    attrs = b"".join(tlv(0x04, a.encode()) for a in ROOT_ATTRS)
    body = (
        tlv(0x04, b"")  # baseObject
        + tlv(0x0A, b"\x00")  # scope baseObject
        + tlv(0x0A, b"\x00")  # derefAliases never
        + tlv(0x02, b"\x00")  # sizeLimit
        + tlv(0x02, b"\x0a")  # timeLimit
        + tlv(0x01, b"\x00")  # typesOnly FALSE
        + tlv(0x87, b"objectClass")  # present filter
        + tlv(0x30, attrs)
    )
    return tlv(0x30, tlv(0x02, bytes([msgid])) + tlv(0x63, body))


def onelevel_request(base: str, msgid: int = 2) -> bytes:
    """SearchRequest: scope singleLevel under ``base``, (objectClass=*), no attributes
    ("1.1", RFC 4511 section 4.5.1.8), at most READ_LIMIT entries in 5 s."""
    body = (
        tlv(0x04, base.encode()[:1024])
        + tlv(0x0A, b"\x01")  # scope singleLevel
        + tlv(0x0A, b"\x00")  # derefAliases never
        + tlv(0x02, bytes([READ_LIMIT]))  # sizeLimit
        + tlv(0x02, b"\x05")  # timeLimit
        + tlv(0x01, b"\xff")  # typesOnly TRUE
        + tlv(0x87, b"objectClass")
        + tlv(0x30, tlv(0x04, b"1.1"))
    )
    return tlv(0x30, tlv(0x02, bytes([msgid])) + tlv(0x63, body))


def parse_onelevel(buf: bytes, base: str) -> dict[str, Any]:
    """Reply to ``onelevel_request`` -> how many entries came back, their first DNs and
    the result (sizeLimitExceeded, 4: more were there)."""
    msgs, _ = split_messages(buf)
    if not msgs:
        raise ProtocolError("no complete LDAPMessage")
    out: dict[str, Any] = {"base": base[:300], "entries": 0}
    dns: list[str] = []
    for msg in msgs:
        _, s, e = header(msg)
        kids = children(msg, s, e)
        if len(kids) < 2 or kids[0][0] != 0x02:
            raise ProtocolError("LDAPMessage without messageID and operation")
        tag, os_, oe = kids[1]
        if tag == 0x64:  # SearchResultEntry: objectName first
            out["entries"] += 1
            parts = children(msg, os_, oe)
            if parts and parts[0][0] == 0x04 and len(dns) < READ_LIMIT:
                dns.append(msg[parts[0][1] : parts[0][2]].decode("utf-8", "replace")[:200])
        elif tag in (0x65, 0x78):
            out.update(_result(msg, os_, oe))
    out["dns"] = dns
    out["truncated"] = out.get("result_code") == 4
    return out


def split_messages(buf: bytes) -> tuple[list[bytes], bool]:
    """Whole LDAPMessages at the start of ``buf``; True if a SearchResultDone (or a
    Notice of Disconnection) is among them."""
    msgs, pos, done = [], 0, False
    while pos < len(buf):
        try:
            tag, _s, e = header(buf, pos)
        except ProtocolError:
            if len(buf) - pos >= 6 and buf[pos] != 0x30:
                raise
            break  # incomplete: wait for more
        if tag != 0x30:
            raise ProtocolError(f"not an LDAPMessage (tag {tag:#x})")
        msg = buf[pos:e]
        msgs.append(msg)
        op = op_tag(msg)
        if op in (0x65, 0x78):  # SearchResultDone, ExtendedResponse (notice)
            done = True
        pos = e
    return msgs, done


def op_tag(msg: bytes) -> int:
    _, s, e = header(msg)
    kids = children(msg, s, e)
    if len(kids) < 2 or kids[0][0] != 0x02:
        raise ProtocolError("LDAPMessage without messageID and operation")
    return kids[1][0]


def declared_length(buf: bytes) -> int | None:
    """The total size the first TLV claims (header included), once its header is in."""
    if len(buf) < 2:
        return None
    first = buf[1]
    if first < 0x80:
        return 2 + first
    k = first & 0x7F
    if len(buf) < 2 + k:
        return None
    return 2 + k + int.from_bytes(buf[2 : 2 + k], "big")


def reply_complete(buf: bytes) -> bool:
    claimed = declared_length(buf)
    if claimed is not None and claimed > MAX_MSG:
        return True  # a message bigger than any rootDSE: stop, the parser refuses it
    try:
        return split_messages(buf)[1]
    except ProtocolError:
        return True  # garbage: stop reading, the parser will say so


def _result(msg: bytes, s: int, e: int) -> dict[str, Any]:
    kids = children(msg, s, e)
    if len(kids) < 3 or kids[0][0] != 0x0A:
        raise ProtocolError("malformed LDAPResult")
    code = _int(msg[kids[0][1] : kids[0][2]])
    out: dict[str, Any] = {
        "result_code": code,
        "result_name": RESULT_CODES.get(code, str(code)),
    }
    diag = msg[kids[2][1] : kids[2][2]].decode("utf-8", errors="replace")[:300]
    if diag:
        out["diagnostic_message"] = diag
    return out


def parse_rootdse(buf: bytes) -> dict[str, Any]:
    """Reply messages -> {"attributes": {name: [values]}, result_code, ...} plus the
    commonly wanted attributes lifted to top-level keys."""
    msgs, _ = split_messages(buf)
    if not msgs:
        raise ProtocolError("no complete LDAPMessage")
    out: dict[str, Any] = {}
    attrs: dict[str, list[str]] = {}
    for msg in msgs:
        _, s, e = header(msg)
        kids = children(msg, s, e)
        if len(kids) < 2 or kids[0][0] != 0x02:
            raise ProtocolError("LDAPMessage without messageID and operation")
        tag, os_, oe = kids[1]
        if tag == 0x64:  # SearchResultEntry
            parts = children(msg, os_, oe)
            if len(parts) < 2 or parts[1][0] != 0x30:
                raise ProtocolError("malformed SearchResultEntry")
            for atag, a_s, a_e in children(msg, parts[1][1], parts[1][2])[:MAX_ATTRS]:
                if atag != 0x30:
                    continue
                pa = children(msg, a_s, a_e)
                if len(pa) < 2 or pa[0][0] != 0x04:
                    continue
                name = msg[pa[0][1] : pa[0][2]].decode("utf-8", errors="replace")[:100]
                vals = [
                    msg[vs:ve].decode("utf-8", errors="replace")[:500]
                    for _t, vs, ve in children(msg, pa[1][1], pa[1][2])[:MAX_VALUES]
                ]
                attrs.setdefault(name, []).extend(vals)
        elif tag in (0x65, 0x78):
            out.update(_result(msg, os_, oe))
    if not attrs and "result_code" not in out:
        raise ProtocolError("no search result in the reply")
    out["attributes"] = attrs
    lower = {k.lower(): v for k, v in attrs.items()}
    for key, name in (
        ("namingcontexts", "naming_contexts"),
        ("supportedldapversion", "supported_ldap_versions"),
        ("supportedsaslmechanisms", "supported_sasl_mechanisms"),
    ):
        if key in lower:
            out[name] = lower[key]
    for key, name in (
        ("vendorname", "vendor_name"),
        ("vendorversion", "vendor_version"),
        ("defaultnamingcontext", "default_naming_context"),
        ("dnshostname", "dns_host_name"),
        ("domainfunctionality", "domain_functionality"),
        ("forestfunctionality", "forest_functionality"),
    ):
        if lower.get(key):
            out[name] = lower[key][0]
    # OpenLDAP names itself only through its monitor/config objects in the schema DN.
    ocs = {v.lower() for v in lower.get("objectclass", [])}
    if "openldaprootdse" in ocs:
        out["vendor_name"] = out.get("vendor_name") or "OpenLDAP"
    return out


async def probe(ctx: GrabContext) -> str:
    reply = await exchange(ctx, search_request(), reply_complete, MAX_MSG, disconnect=UNBIND)
    if isinstance(reply, str):
        return reply
    try:
        section = parse_rootdse(reply)
    except ProtocolError:
        return Outcome.NEGATIVE
    ctx.result.service = "ldap"
    ctx.result.data = reply[: ctx.opts.max_bytes]
    ctx.result.responses["LDAPSearchReq"] = reply
    ctx.result.sections["ldap"] = section
    contexts = section.get("naming_contexts") or []
    base = section.get("default_naming_context") or next((c for c in contexts if c), None)
    if base:
        read = await anonymous_read(ctx, base)
        if read is not None:
            section["anonymous_read"] = read
    return Outcome.POSITIVE


async def anonymous_read(ctx: GrabContext, base: str) -> dict[str, Any] | None:
    """One anonymous one-level search below ``base`` on a fresh connection; None when
    the server did not answer it at all."""
    reply = await exchange(ctx, onelevel_request(base), reply_complete, MAX_READ_REPLY,
                           disconnect=UNBIND)
    if isinstance(reply, str) or not reply:
        return None
    try:
        return parse_onelevel(reply, base)
    except ProtocolError as e:
        return {"base": base[:300], "error": str(e)[:200]}


PROTOCOL = Protocol(name="ldap", ports=(389, 3268), tls_ports=(636, 3269), probe=probe,
                    unhinted="in-order")
