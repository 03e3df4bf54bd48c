"""Sans-IO helpers for line-based reply protocols (FTP, SMTP): ``ddd-`` continues,
``ddd `` ends a reply."""

from __future__ import annotations

import re

from .conn import Conn


def reply_complete(buf: bytes) -> bool:
    """True once the buffer ends with the final line of a (multi-line) reply."""
    if not buf.endswith(b"\n"):
        return False
    lines = buf.rstrip(b"\r\n").split(b"\n")
    last = lines[-1].rstrip(b"\r")
    return bool(re.fullmatch(rb"\d{3}( .*)?", last, re.S)) and (
        len(lines) == 1 or lines[0][:3] == last[:3] or lines[0][3:4] != b"-"
    )


def parse_reply(buf: bytes) -> tuple[int | None, list[str]]:
    """-> (code of the final line, every line's text without the code prefix)."""
    text = buf.decode("utf-8", errors="replace")
    lines = [ln.rstrip("\r") for ln in text.split("\n") if ln.strip("\r")]
    code: int | None = None
    out: list[str] = []
    for ln in lines:
        m = re.match(r"(\d{3})([ -]?)(.*)", ln)
        if m:
            code = int(m.group(1)) if m.group(2) != "-" else code or int(m.group(1))
            out.append(m.group(3))
        else:
            out.append(ln.strip())  # continuation lines of a multi-line reply
    return code, out


# A greeting with one of these codes is FTP's or SMTP's; their words tell which
# (vsftpd fails with "500 OOPS:").
GREETING_CODES = (b"220", b"421", b"120", b"500", b"554")
FTP_WORDS = (b"ftp", b"filezilla", b"serv-u", b"oops:")
SMTP_WORDS = (b"smtp", b"esmtp", b"postfix", b"exim", b"sendmail", b" mail")


def greeting_names(first: bytes) -> str | None:
    """A reply-code greeting: "ftp" or "smtp" when its words name one of them alone, ""
    when they name neither or both (the port decides); None for any other greeting."""
    m = re.match(rb"(\d{3})[ -]", first)
    if not m or m.group(1) not in GREETING_CODES:
        return None
    low = first.lower()
    is_ftp = any(h in low for h in FTP_WORDS)
    is_smtp = any(h in low for h in SMTP_WORDS)
    if is_ftp != is_smtp:
        return "ftp" if is_ftp else "smtp"
    return ""


async def read_reply(conn: Conn, cap: int, timeout: float) -> bytes:
    return await conn.read_until_done(reply_complete, cap, timeout)


async def command(conn: Conn, line: bytes, cap: int, timeout: float) -> bytes:
    await conn.write(line, timeout)
    return await read_reply(conn, cap, timeout)
