"""Sans-IO parsers on arbitrary bytes: they return facts or raise ProtocolError, nothing
else, and never read past their input."""

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from netatlas.grab.codecs.httpparse import extract_title, icon_links, parse_response
from netatlas.grab.engine.detect import classify_greeting
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.engine.lines import parse_reply, reply_complete
from netatlas.grab.protocols import ftp, memcached, mysql, postgresql, redis, smtp, ssh

junk = st.binary(max_size=2048)


def tolerant(fn, data: bytes) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(ProtocolError):
        fn(data)


@settings(max_examples=300, deadline=None)
@given(junk)
def test_binary_parsers(data: bytes) -> None:
    for fn in (
        ssh.parse_kexinit,
        ssh.parse_ident,
        ssh.parse_ecdh_reply,
        postgresql.startup_facts,
        redis.parse_info_reply,
        mysql.parse_handshake,
    ):
        tolerant(fn, data)
    tolerant(ssh.parse_kexinit, b"\x14" + data)
    tolerant(postgresql.startup_facts, b"E" + data)


@settings(max_examples=300, deadline=None)
@given(junk)
def test_text_parsers_never_raise(data: bytes) -> None:
    parse_response(data, raw_cap=512, body_cap=512)
    parse_response(b"HTTP/1.1 200 OK\r\n" + data, raw_cap=512, body_cap=512)
    extract_title(data)
    icon_links(data)
    parse_reply(data)
    reply_complete(data)
    ftp.parse_feat(data)
    smtp.parse_ehlo(data)
    memcached.parse_stats(data)
    classify_greeting(data, 21)
