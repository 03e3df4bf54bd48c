"""SSH grabber: identification line, the server's KEXINIT (algorithm lists, HASSH) and
the host key from a minimal curve25519 key exchange that stops at the server's reply
(we never authenticate). asyncssh fetches the key when curve25519 is not offered."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import warnings
from typing import Any

from cryptography.hazmat.primitives.asymmetric import x25519

from ..engine.conn import Conn
from ..engine.context import GrabContext
from ..engine.errors import ApplicationError, ProtocolError
from ..engine.registry import Greeting, Protocol

OUR_IDENT = b"SSH-2.0-netatlas_0.1\r\n"
MAX_IDENT = 255  # RFC 4253 4.2: the identification line is at most 255 bytes
MAX_PRELUDE_LINES = 20  # RFC 4253 allows other lines before it; we bound them
MAX_PACKET = 35000  # RFC 4253 6.1
MSG_DISCONNECT, MSG_KEXINIT, MSG_KEX_ECDH_INIT, MSG_KEX_ECDH_REPLY = 1, 20, 30, 31

NAME_LISTS = (
    "kex_algorithms",
    "server_host_key_algorithms",
    "encryption_algorithms_client_to_server",
    "encryption_algorithms_server_to_client",
    "mac_algorithms_client_to_server",
    "mac_algorithms_server_to_client",
    "compression_algorithms_client_to_server",
    "compression_algorithms_server_to_client",
    "languages_client_to_server",
    "languages_server_to_client",
)
CURVE25519 = ("curve25519-sha256", "curve25519-sha256@libssh.org")
HOSTKEY_PREF = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
    "ssh-dss",
)


# -- sans-IO ---------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError(f"truncated SSH field at offset {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def string(self) -> bytes:
        return self.take(self.u32())

    def name_list(self) -> list[str]:
        raw = self.string().decode("ascii", errors="replace")
        return [n for n in raw.split(",") if n][:256]


def parse_ident(line: bytes) -> dict[str, Any]:
    """``SSH-protoversion-softwareversion SP comments`` (CRLF optional)."""
    text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
    if not text.startswith("SSH-"):
        raise ProtocolError("no SSH identification line")
    parts = text.split("-", 2)
    if len(parts) < 3:
        raise ProtocolError(f"malformed identification line {text[:80]!r}")
    software, _, comment = parts[2].partition(" ")
    return {
        "version_string": text,
        "proto": parts[1],
        "software": software,
        "comment": comment or None,
    }


def parse_kexinit(payload: bytes) -> dict[str, Any]:
    """SSH_MSG_KEXINIT payload (RFC 4253 7.1) -> its name-lists and flags."""
    r = _Reader(payload)
    if r.take(1) != bytes([MSG_KEXINIT]):
        raise ProtocolError("not a KEXINIT message")
    cookie = r.take(16)
    out: dict[str, Any] = {name: r.name_list() for name in NAME_LISTS}
    out["first_kex_follows"] = r.take(1) != b"\x00"
    out["reserved"] = r.u32()
    out["cookie"] = cookie.hex()
    return out


def hassh_server(kex: dict[str, Any]) -> tuple[str, str]:
    """HASSH-server: md5 of kex;enc_s2c;mac_s2c;comp_s2c (Salesforce's definition)."""
    algos = ";".join(
        ",".join(kex[k])
        for k in (
            "kex_algorithms",
            "encryption_algorithms_server_to_client",
            "mac_algorithms_server_to_client",
            "compression_algorithms_server_to_client",
        )
    )
    return hashlib.md5(algos.encode()).hexdigest(), algos


def kex_section(kex: dict[str, Any]) -> dict[str, Any]:
    """The record's ssh.kex shape (Shodan's names; server-to-client lists)."""
    return {
        "kex_algorithms": kex["kex_algorithms"],
        "server_host_key_algorithms": kex["server_host_key_algorithms"],
        "encryption_algorithms": kex["encryption_algorithms_server_to_client"],
        "mac_algorithms": kex["mac_algorithms_server_to_client"],
        "compression_algorithms": kex["compression_algorithms_server_to_client"],
        "languages": kex["languages_server_to_client"],
        "kex_follows": kex["first_kex_follows"],
    }


def key_facts(blob: bytes) -> dict[str, Any]:
    """Facts of an SSH public key blob (RFC 4253 6.6)."""
    key_type = _Reader(blob).string().decode("ascii", errors="replace")
    md5 = hashlib.md5(blob).hexdigest()
    sha = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return {
        "type": key_type,
        "key": base64.b64encode(blob).decode(),
        "fingerprint": ":".join(md5[i : i + 2] for i in range(0, 32, 2)),
        "fingerprint_sha256": f"SHA256:{sha}",
    }


def build_packet(payload: bytes, block: int = 8) -> bytes:
    pad = block - (5 + len(payload)) % block
    if pad < 4:
        pad += block
    return struct.pack(">IB", 1 + len(payload) + pad, pad) + payload + os.urandom(pad)


def _name_list(names: list[str] | tuple[str, ...]) -> bytes:
    raw = ",".join(names).encode()
    return struct.pack(">I", len(raw)) + raw


def build_client_kexinit(server: dict[str, Any], kex_alg: str) -> bytes:
    """Our KEXINIT: one kex, our host-key preference, and the server's own cipher
    lists echoed back so negotiation cannot fail on them."""
    hostkeys = [a for a in HOSTKEY_PREF if a in server["server_host_key_algorithms"]]
    hostkeys += [a for a in server["server_host_key_algorithms"] if a not in hostkeys]
    lists = [
        [kex_alg],
        hostkeys,
        server["encryption_algorithms_client_to_server"],
        server["encryption_algorithms_server_to_client"],
        server["mac_algorithms_client_to_server"],
        server["mac_algorithms_server_to_client"],
        server["compression_algorithms_client_to_server"],
        server["compression_algorithms_server_to_client"],
        [],
        [],
    ]
    body = bytes([MSG_KEXINIT]) + os.urandom(16) + b"".join(_name_list(x) for x in lists)
    return body + b"\x00" + b"\x00\x00\x00\x00"


def parse_ecdh_reply(payload: bytes) -> bytes:
    """SSH_MSG_KEX_ECDH_REPLY (RFC 5656 4) -> the server host key blob K_S."""
    r = _Reader(payload)
    if r.take(1) != bytes([MSG_KEX_ECDH_REPLY]):
        raise ProtocolError("not a KEX_ECDH_REPLY message")
    return r.string()


def parse_disconnect(payload: bytes) -> str:
    r = _Reader(payload[1:])
    code = r.u32()
    try:
        desc = r.string().decode("utf-8", errors="replace")[:200]
    except ProtocolError:
        desc = ""
    return f"disconnect {code}: {desc}"


# -- I/O -------------------------------------------------------------------------


async def read_ident(conn: Conn, timeout: float) -> tuple[bytes, list[bytes]]:
    prelude: list[bytes] = []
    for _ in range(MAX_PRELUDE_LINES):
        line = await conn.read_until(b"\n", MAX_IDENT, timeout)
        if line.startswith(b"SSH-"):
            if not line.endswith(b"\n"):
                raise ProtocolError("identification line too long or cut short")
            return line, prelude
        if not line.endswith(b"\n"):
            raise ProtocolError("no SSH identification line")
        prelude.append(line)
    raise ProtocolError("too many lines before the identification line")


async def read_packet(conn: Conn, timeout: float) -> bytes:
    """One unencrypted binary packet's payload, lengths validated before reading."""
    head = await conn.read_exactly(5, timeout)
    length, pad = struct.unpack(">IB", head)
    if not 5 <= length <= MAX_PACKET or pad >= length:
        raise ProtocolError(f"bad SSH packet length {length} / padding {pad}")
    rest = await conn.read_exactly(length - 1, timeout)
    return rest[: length - 1 - pad]


async def _hostkey_curve25519(
    conn: Conn, ctx: GrabContext, server: dict[str, Any], alg: str
) -> bytes:
    t = ctx.opts.read_timeout
    await conn.write(build_packet(build_client_kexinit(server, alg)), t)
    pub = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    init = bytes([MSG_KEX_ECDH_INIT]) + struct.pack(">I", len(pub)) + pub
    await conn.write(build_packet(init), t)
    for _ in range(8):  # skip IGNORE/DEBUG, bounded
        payload = await read_packet(conn, t)
        if not payload:
            continue
        if payload[0] == MSG_KEX_ECDH_REPLY:
            return parse_ecdh_reply(payload)
        if payload[0] == MSG_DISCONNECT:
            raise ApplicationError(parse_disconnect(payload))
    raise ProtocolError("no KEX_ECDH_REPLY")


async def _hostkey_asyncssh(ctx: GrabContext) -> bytes | None:
    import asyncssh  # heavy import, only when a server lacks curve25519

    async with asyncio.timeout(2 * ctx.opts.read_timeout):
        with warnings.catch_warnings():  # old FFDH kex is exactly what we must still see
            warnings.simplefilter("ignore")
            key = await asyncssh.get_server_host_key(ctx.ep.ip, ctx.ep.port)
    return key.public_data if key is not None else None


async def grab(ctx: GrabContext, conn: Conn) -> None:
    res = ctx.result
    res.service = "ssh"
    t = ctx.opts.read_timeout
    line, prelude = await read_ident(conn, t)
    res.data = line
    section: dict[str, Any] = parse_ident(line)
    if prelude:
        section["prelude"] = [p.decode("utf-8", errors="replace") for p in prelude]
    res.sections["ssh"] = section
    if section["proto"] not in ("2.0", "1.99"):
        return  # SSH-1 only: nothing more to learn without speaking SSH-1
    await conn.write(OUR_IDENT, t)
    payload = await read_packet(conn, t)
    if not payload or payload[0] != MSG_KEXINIT:
        if payload and payload[0] == MSG_DISCONNECT:
            raise ApplicationError(parse_disconnect(payload))
        raise ProtocolError("expected KEXINIT")
    kex = parse_kexinit(payload)
    section["kex"] = kex_section(kex)
    section["hassh"], section["hassh_algorithms"] = hassh_server(kex)
    alg = next((a for a in CURVE25519 if a in kex["kex_algorithms"]), None)
    try:
        blob = (
            await _hostkey_curve25519(conn, ctx, kex, alg) if alg else await _hostkey_asyncssh(ctx)
        )
        if blob:
            section.update(key_facts(blob))
    except Exception as e:  # the key is a bonus: ident and KEXINIT already are facts
        section["hostkey_error"] = f"{type(e).__name__}: {e}"[:200]


def greeting(first: bytes, port: int) -> Greeting:
    return Greeting.YES if first.startswith(b"SSH-") else Greeting.NO


PROTOCOL = Protocol(name="ssh", ports=(22,), greeting=greeting, grab=grab)
