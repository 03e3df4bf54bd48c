"""JARM, the active TLS server fingerprint Shodan (``ssl.jarm``) and Censys show: ten
crafted ClientHellos (TLS 1.1-1.3, cipher orders forward / reverse / halves / middle-out,
GREASE, ALPN), each answer reduced to cipher|version|ALPN|extension order, then hashed
to 62 hex characters. Equal hashes: the same TLS stack and configuration.

The hellos, the answer parsing and the hash are pyjarm's (the PyPI package, imported as
``jarm``); the network side is ours: each hello on a bounded connection of the grab
context, one read of at most 1484 bytes as the reference tool does, silence ends it.
"""

from __future__ import annotations

import ssl

from jarm.hashing.hashing import Hasher
from jarm.scanner.scanner import Scanner

from ..codecs.tls_hello import answer_complete
from ..engine.context import GrabContext
from ..engine.errors import GrabError

PART_OF = "tls"  # part of that protocol, not one of its own (protocols/__init__.py)

JARM_READ = 1484  # what the reference implementation reads of each answer
NO_TLS = "0" * 62  # the hash of ten failed hellos


class JarmSilence(Exception):
    """A hello met silence: no fingerprint (a partial one would mislead)."""


def hellos(host: str, port: int) -> list[tuple[str, bytes]]:
    """The ten ClientHellos as (name, bytes); ``host`` goes into SNI as the tool does."""
    return Scanner._generate_packets(dest_host=host, dest_port=port)


def digest(answers: list[bytes | None], packets: list[tuple[str, bytes]]) -> str:
    """The JARM hash from the ten answers (None: refused or closed). Sans-IO."""
    parts = [Scanner._parse_server_hello(a or None, p) for a, p in zip(answers, packets,
                                                                        strict=True)]
    return Hasher.jarm(",".join(parts))


async def _ask(ctx: GrabContext, data: bytes, timeout: float) -> bytes | None:
    try:
        conn = await ctx.open_plain()
    except (GrabError, OSError) as e:
        raise JarmSilence(f"connect failed: {e}") from e
    try:
        await conn.write(data, timeout)
        got = await conn.read_until_done(
            lambda b: answer_complete(b) or len(b) >= JARM_READ, JARM_READ, timeout)
        if not answer_complete(got) and len(got) < JARM_READ and not conn.at_eof:
            raise JarmSilence("a JARM answer dripped past its deadline")
        return got
    except TimeoutError as e:
        raise JarmSilence("a JARM hello met silence") from e
    except (ConnectionError, ssl.SSLError, OSError):
        return None  # a reset is an answer too: "refused"
    finally:
        conn.abort()


async def fingerprint(ctx: GrabContext, timeout: float) -> str:
    packets = hellos(ctx.hostname, ctx.ep.port)
    answers = [await _ask(ctx, data, timeout) for _, data in packets]
    return digest(answers, packets)
