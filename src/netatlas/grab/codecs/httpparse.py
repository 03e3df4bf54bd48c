"""Sans-IO HTTP/1.x response handling: an incremental h11-based parser with a lenient
fallback for servers h11 rejects, bounded decompression, title and icon-link
extraction. No sockets here; ``http.py`` drives it over a ``Conn``."""

from __future__ import annotations

import html as htmlmod
import re
import zlib
from dataclasses import dataclass, field

import h11

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_LINK = re.compile(rb"<link\b[^>]*>", re.I)
_ATTR = re.compile(rb"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_STATUS_LINE = re.compile(rb"^HTTP/(\d)\.(\d)\s+(\d{3})(?:\s+([^\r\n]*))?")


@dataclass(slots=True)
class HttpResponse:
    raw: bytes = b""
    status: int | None = None
    reason: str = ""
    http_version: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    complete: bool = False
    truncated: bool = False
    error: str | None = None

    def header(self, name: str) -> str | None:
        vals = [v for k, v in self.headers if k == name]
        return ", ".join(vals) if vals else None

    def header_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in self.headers:
            out[k] = f"{out[k]}, {v}" if k in out else v
        return out


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")


def build_request(
    host: str, target: str, user_agent: str, head_cap: int = 64 * 1024
) -> tuple[h11.Connection, bytes]:
    """A client h11 connection that has sent ``GET target`` and the bytes to send.
    ``head_cap`` bounds how much h11 buffers while waiting for the end of the headers."""
    c = h11.Connection(h11.CLIENT, max_incomplete_event_size=head_cap)
    req = h11.Request(
        method="GET",
        target=target,
        headers=[
            ("Host", host),
            ("User-Agent", user_agent),
            ("Accept", "*/*"),
            ("Connection", "close"),
        ],
    )
    data = c.send(req) or b""
    data += c.send(h11.EndOfMessage()) or b""
    return c, data


class ResponseParser:
    """Feed it the bytes of one response; it says when it has seen enough."""

    def __init__(self, conn: h11.Connection, raw_cap: int, body_cap: int) -> None:
        self._h = conn
        self._raw = bytearray()
        self._body = bytearray()
        self._raw_cap = raw_cap
        self._body_cap = body_cap
        self.resp = HttpResponse()
        self.done = False

    def feed(self, data: bytes) -> bool:
        if self.done:
            return True
        room = self._raw_cap - len(self._raw)
        if room > 0:
            self._raw += data[:room]
        if bytes(self._raw[:5]) != b"HTTP/"[: len(self._raw[:5])]:
            # Not HTTP at all (h11 would wait for a blank line that never comes).
            self.resp.error = "not an HTTP response"
            self.done = True
            return True
        if self.resp.error is None:
            try:
                self._h.receive_data(data)
                self._pump()
            except h11.RemoteProtocolError as e:
                self.resp.error = str(e)[:200]
                self._lenient()
                self.done = True
        return self.done

    def eof(self) -> None:
        if self.done or self.resp.error is not None:
            self.done = True
            return
        try:
            self._h.receive_data(b"")
            self._pump()
        except h11.RemoteProtocolError as e:
            if self.resp.status is None:
                self.resp.error = str(e)[:200]
                self._lenient()
            # else: a cut-short body; we keep what came
        self.done = True

    def _pump(self) -> None:
        while not self.done:
            ev = self._h.next_event()
            if ev is h11.NEED_DATA or ev is h11.PAUSED:
                return
            if isinstance(ev, h11.InformationalResponse):
                continue
            if isinstance(ev, h11.Response):
                self.resp.status = ev.status_code
                self.resp.reason = _text(ev.reason)
                self.resp.http_version = _text(ev.http_version)
                self.resp.headers = [(_text(k).lower(), _text(v)) for k, v in ev.headers]
            elif isinstance(ev, h11.Data):
                room = self._body_cap - len(self._body)
                self._body += ev.data[:room]
                if len(ev.data) > room:
                    self.resp.truncated = True
                    self.done = True
            elif isinstance(ev, (h11.EndOfMessage, h11.ConnectionClosed)):
                self.resp.complete = True
                self.done = True

    def _lenient(self) -> None:
        """h11 refused it; salvage a status line and headers the way a browser would."""
        raw = bytes(self._raw)
        head, sep, body = raw.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = raw.partition(b"\n\n")
        m = _STATUS_LINE.match(head)
        if not m:
            return
        self.resp.status = int(m.group(3))
        self.resp.http_version = f"{int(m.group(1))}.{int(m.group(2))}"
        self.resp.reason = _text(m.group(4) or b"").strip()
        headers = []
        for line in re.split(rb"\r?\n", head)[1:]:
            k, colon, v = line.partition(b":")
            if colon and k.strip():
                headers.append((_text(k.strip()).lower(), _text(v.strip())))
        self.resp.headers = headers
        self.resp.body = body[: self._body_cap]

    def result(self) -> HttpResponse:
        self.resp.raw = bytes(self._raw)
        if not self.resp.body:
            self.resp.body = bytes(self._body)
        return self.resp


def parse_response(
    raw: bytes, raw_cap: int = 64 * 1024, body_cap: int = 256 * 1024, eof: bool = True
) -> HttpResponse:
    """Parse captured bytes of a reply to ``GET /`` (tests, fuzzing, replay)."""
    conn, _ = build_request("x", "/", "x", raw_cap)
    p = ResponseParser(conn, raw_cap, body_cap)
    p.feed(raw)
    if eof:
        p.eof()
    return p.result()


def decode_body(body: bytes, content_encoding: str | None, cap: int) -> tuple[bytes, str | None]:
    """Undo gzip/deflate with an output cap (no decompression bombs). Returns
    (bytes, error); on any trouble the body stays as it came."""
    enc = (content_encoding or "").strip().lower()
    if enc in ("", "identity"):
        return body, None
    if enc in ("gzip", "x-gzip"):
        wbits_options = [16 + zlib.MAX_WBITS]
    elif enc == "deflate":
        wbits_options = [zlib.MAX_WBITS, -zlib.MAX_WBITS]  # zlib-wrapped, or raw as IIS sends
    else:
        return body, f"unsupported content-encoding {enc[:40]}"
    for wbits in wbits_options:
        try:
            d = zlib.decompressobj(wbits)
            return d.decompress(body, cap), None
        except zlib.error as e:
            err = str(e)
    return body, f"decode {enc}: {err[:100]}"


def extract_title(body: bytes, limit: int = 512) -> str | None:
    m = _TITLE.search(body)
    if not m:
        return None
    text = htmlmod.unescape(_text(m.group(1)))
    return " ".join(text.split())[:limit]


def icon_links(body: bytes) -> list[str]:
    """hrefs of <link rel="icon"|"shortcut icon"|"apple-touch-icon"...>, page order."""
    out = []
    for tag in _LINK.findall(body):
        attrs = {}
        for m in _ATTR.finditer(tag):
            val = m.group(2) if m.group(2) is not None else (m.group(3) or m.group(4) or b"")
            attrs[m.group(1).lower()] = val
        rel = attrs.get(b"rel", b"").lower().split()
        href = attrs.get(b"href")
        if href and b"icon" in rel:
            out.append(htmlmod.unescape(_text(href)).strip())
    return out


_IMAGE_MAGIC = (
    b"\x00\x00\x01\x00",  # ICO
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",  # JPEG
    b"BM",
    b"RIFF",  # WebP
)


def looks_like_image(body: bytes, content_type: str | None) -> bool:
    ct = (content_type or "").lower()
    if ct.startswith("image/"):
        return True
    if "html" in ct or "json" in ct:
        return False
    head = body[:256].lstrip()
    return body.startswith(_IMAGE_MAGIC) or head.startswith(b"<svg")
