import gzip
import zlib

from netatlas.grab.codecs.httpparse import (
    decode_body,
    extract_title,
    icon_links,
    looks_like_image,
    parse_response,
)

NGINX_301 = (
    b"HTTP/1.1 301 Moved Permanently\r\n"
    b"Server: nginx/1.22.1\r\n"
    b"Content-Type: text/html\r\n"
    b"Content-Length: 9\r\n"
    b"Location: https://example.test/\r\n"
    b"Set-Cookie: a=1\r\n"
    b"Set-Cookie: b=2\r\n"
    b"\r\n"
    b"moved...."
)


def test_parse_headers_body_and_repeats() -> None:
    r = parse_response(NGINX_301)
    assert r.status == 301 and r.reason == "Moved Permanently" and r.http_version == "1.1"
    assert r.header("location") == "https://example.test/"
    assert r.header_dict()["set-cookie"] == "a=1, b=2"
    assert r.body == b"moved...." and r.complete and not r.truncated
    assert r.raw == NGINX_301


def test_chunked_body_is_reassembled() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    assert parse_response(raw).body == b"hello world"


def test_http10_read_until_close() -> None:
    raw = b"HTTP/1.0 200 OK\r\nServer: tiny\r\n\r\nbody until close"
    r = parse_response(raw)
    assert r.status == 200 and r.body == b"body until close"
    # without EOF the parser cannot know the body ended
    assert not parse_response(raw, eof=False).complete


def test_body_cap_truncates() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000
    r = parse_response(raw, body_cap=100)
    assert r.truncated and r.body == b"x" * 100


def test_raw_cap() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"y" * 5000
    r = parse_response(raw, raw_cap=200)
    assert len(r.raw) == 200 and len(r.body) == 5000


def test_lenient_fallback_for_what_h11_rejects() -> None:
    # A space inside a header name is illegal; browsers and we still read it.
    raw = b"HTTP/1.1 200 OK\r\nBad Header: v\r\nServer: odd/1\r\n\r\n<title>x</title>"
    r = parse_response(raw)
    assert r.error and r.status == 200
    assert r.header("server") == "odd/1"
    assert r.body == b"<title>x</title>"


def test_not_http_at_all() -> None:
    r = parse_response(b"-ERR unknown command 'GET'\r\n")
    assert r.status is None and r.error


def test_decode_gzip_and_deflate_bounded() -> None:
    assert decode_body(gzip.compress(b"abc"), "gzip", 100) == (b"abc", None)
    assert decode_body(zlib.compress(b"abc"), "deflate", 100) == (b"abc", None)
    raw_deflate = zlib.compressobj(wbits=-15)
    data = raw_deflate.compress(b"abc") + raw_deflate.flush()
    assert decode_body(data, "deflate", 100) == (b"abc", None)
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB that inflates to 50 MB
    out, err = decode_body(bomb, "gzip", 1000)
    assert err is None and out == b"\0" * 1000
    body, err = decode_body(b"not gzip", "gzip", 100)
    assert body == b"not gzip" and err
    assert decode_body(b"x", "br", 100)[1]


def test_title() -> None:
    assert extract_title(b"<html><TITLE lang=en>\n  A &amp;  B\t</title>") == "A & B"
    assert extract_title(b"<title>" + b"x" * 2000 + b"</title>") == "x" * 512
    assert extract_title(b"<title>\xff\xfe bad</title>") == "\ufffd\ufffd bad"
    assert extract_title(b"<html>no title</html>") is None


def test_icon_links() -> None:
    html = (
        b'<link rel="stylesheet" href="/s.css"><link REL="shortcut icon" '
        b"href='/static/f.ico?v=2&amp;x=1'><link href=/a.png rel=icon>"
    )
    assert icon_links(html) == ["/static/f.ico?v=2&x=1", "/a.png"]


def test_looks_like_image() -> None:
    assert looks_like_image(b"\x00\x00\x01\x00....", None)
    assert looks_like_image(b"whatever", "image/png")
    assert looks_like_image(b"\x89PNG\r\n\x1a\n...", "application/octet-stream")
    assert not looks_like_image(b"<html>404</html>", "text/html")
    assert not looks_like_image(b"plain", None)
