"""ONC RPC (RFC 5531) as a surveyor needs it: a CALL with no credentials, TCP record
marking (RFC 5531 section 11), the accepted reply's result, and a bounded XDR reader
(RFC 4506). Sans-IO; every length is checked against what is left and capped."""

from __future__ import annotations

import struct

from ..engine.errors import ProtocolError

LAST_FRAGMENT = 0x8000_0000
MAX_RECORD = 256 * 1024
_REPLY_STAT = {0: "accepted", 1: "denied"}
_ACCEPT_STAT = {0: "success", 1: "prog_unavail", 2: "prog_mismatch", 3: "proc_unavail",
                4: "garbage_args", 5: "system_err"}


class RpcError(ProtocolError):
    """A well-formed reply that is not a success (the server said why)."""


def call(xid: int, prog: int, vers: int, proc: int, args: bytes = b"") -> bytes:
    """CALL body: rpcvers 2, AUTH_NULL credential and verifier (RFC 5531 section 9)."""
    return struct.pack(">IIIIIIIIII", xid, 0, 2, prog, vers, proc, 0, 0, 0, 0) + args


def record(message: bytes) -> bytes:
    """One message as a single last fragment (RFC 5531 section 11)."""
    return struct.pack(">I", LAST_FRAGMENT | len(message)) + message


def unrecord(buf: bytes, cap: int = MAX_RECORD) -> bytes | None:
    """The message of the first whole record in ``buf`` (fragments joined), None while
    incomplete; ProtocolError when a fragment claims more than ``cap`` in all."""
    pos, out = 0, bytearray()
    while pos + 4 <= len(buf):
        (mark,) = struct.unpack_from(">I", buf, pos)
        size = mark & ~LAST_FRAGMENT
        if len(out) + size > cap:
            raise ProtocolError(f"RPC record of more than {cap} bytes")
        if pos + 4 + size > len(buf):
            return None
        out += buf[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if mark & LAST_FRAGMENT:
            return bytes(out)
    return None


def record_complete(buf: bytes) -> bool:
    try:
        return unrecord(buf) is not None
    except ProtocolError:
        return True  # stop reading: the parser refuses it


def reply_result(msg: bytes, xid: int) -> bytes:
    """An accepted, successful REPLY to ``xid`` -> its result bytes. RpcError when the
    server refused (denied, prog_unavail...), ProtocolError when it is no RPC reply."""
    r = Xdr(msg)
    if r.uint() != xid or r.uint() != 1:
        raise ProtocolError("not an RPC reply to our call")
    stat = r.uint()
    if stat == 1:
        raise RpcError("RPC call denied")
    if stat != 0:
        raise ProtocolError(f"bad RPC reply_stat {stat}")
    r.uint()  # verifier flavor
    r.opaque(400)  # verifier body (RFC 5531: at most 400 bytes)
    accept = r.uint()
    if accept != 0:
        raise RpcError(f"RPC {_ACCEPT_STAT.get(accept, str(accept))}")
    return msg[r.pos :]


class Xdr:
    """A bounded XDR reader: 4-byte big-endian units, opaque data padded to 4."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def uint(self) -> int:
        if self.pos + 4 > len(self.buf):
            raise ProtocolError("XDR data cut short")
        (v,) = struct.unpack_from(">I", self.buf, self.pos)
        self.pos += 4
        return int(v)

    def boolean(self) -> bool:
        v = self.uint()
        if v > 1:
            raise ProtocolError(f"XDR bool {v}")
        return v == 1

    def opaque(self, limit: int) -> bytes:
        n = self.uint()
        if n > limit:
            raise ProtocolError(f"XDR opaque of {n} bytes (at most {limit})")
        end = self.pos + n
        if end > len(self.buf):
            raise ProtocolError("XDR opaque runs past the data")
        out = self.buf[self.pos : end]
        self.pos = end + (-n % 4)
        return out

    def string(self, limit: int) -> str:
        return self.opaque(limit).decode("utf-8", "replace")
