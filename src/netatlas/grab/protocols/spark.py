"""Apache Spark's RPC port (the standalone master's 7077, a driver's or worker's random
port): Spark's own Netty transport, silent until it gets a frame of its own and deaf to
anything else. We send one RpcRequest whose body is no RequestMessage; Spark answers it
with an RpcFailure carrying the JVM's exception, whose stack names
``org.apache.spark.rpc``: that is Spark, and nothing was asked of it. With
``spark.authenticate`` on, the failure says authentication is needed instead.

Frame layout (spark common/network-common, protocol/MessageEncoder and
TransportFrameDecoder): an 8-byte big-endian frame length that counts itself, a
message-type byte, the message: RpcRequest (3) = request id (8) + body length (4) +
body; RpcFailure (5) = request id (8) + error text (4-byte length + UTF-8,
protocol/Encoders.Strings). Sans-IO parser plus the probe."""

from __future__ import annotations

import struct
from typing import Any

from ..engine.context import GrabContext, Outcome
from ..engine.exchange import exchange
from ..engine.registry import Protocol

RPC_REQUEST, RPC_RESPONSE, RPC_FAILURE = 3, 4, 5
REQUEST_ID = 0x6E61_7461  # any number: the failure echoes it
BODY = b"netatlas"  # not a RequestMessage: read as one, it ends too soon
MAX_REPLY = 16384  # a stack trace is ~3 KB; we keep its first lines only
MAX_ERROR = 512
_HEADER = struct.Struct(">qBq")  # frame length, type, request id


_MESSAGE = struct.pack(">Bqi", RPC_REQUEST, REQUEST_ID, len(BODY))
REQUEST = struct.pack(">q", 8 + len(_MESSAGE) + len(BODY)) + _MESSAGE + BODY


def frame_complete(buf: bytes) -> bool:
    """A whole frame is in (its length prefix says how long), or more than we keep."""
    if len(buf) < 8:
        return False
    (length,) = struct.unpack(">q", buf[:8])
    return len(buf) >= min(length, MAX_REPLY)


def parse_failure(buf: bytes) -> dict[str, Any] | None:
    """An RpcFailure to our request -> ``{"error", "auth_required"}``, or None when these
    bytes are not Spark's: the frame, type, our request id, a string, and Spark named in
    the error (its RPC stack, or its authentication's words)."""
    if len(buf) < _HEADER.size + 4:
        return None
    length, kind, rid = _HEADER.unpack_from(buf)
    if kind not in (RPC_FAILURE, RPC_RESPONSE) or rid != REQUEST_ID \
            or not 21 <= length < 1 << 24:
        return None
    (size,) = struct.unpack_from(">i", buf, _HEADER.size)
    if size < 0:
        return None
    text = buf[_HEADER.size + 4:_HEADER.size + 4 + min(size, MAX_REPLY)].decode(
        "utf-8", "replace")
    if kind == RPC_RESPONSE:  # an answer would be Spark's too, and asked nothing
        return {"error": None, "auth_required": False}
    first = text.split("\n", 1)[0].strip()[:MAX_ERROR]
    # the exception's own message: "Expected SaslMessage, received something else"
    auth = "sasl" in first.lower() or "authenticat" in first.lower()
    if "org.apache.spark" not in text:
        return None
    return {"error": first, "auth_required": auth}


async def probe(ctx: GrabContext) -> str:
    reply = await exchange(ctx, REQUEST, frame_complete, MAX_REPLY)
    if isinstance(reply, str):
        return reply
    section = parse_failure(reply)
    if section is None:
        return Outcome.NEGATIVE
    ctx.result.service = "spark"
    ctx.result.data = reply[:MAX_REPLY]
    ctx.result.sections["spark"] = section
    return Outcome.POSITIVE


# Asked first on the master's port only. Spark waits silently for a frame of its own, so
# on a port that hints at nothing it would be one more frame-only probe, which costs
# every silent port (a tarpit) one more read timeout; a driver's or worker's RPC port is
# random anyway.
PROTOCOL = Protocol(name="spark", ports=(7077,), probe=probe)
