import asyncio

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols.smtp import parse_ehlo
from netatlas.model import Endpoint

from .conftest import serve

EHLO = (
    b"250-mx.lab.test Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
    b"250-STARTTLS\r\n250 8BITMIME\r\n"
)


def test_parse_ehlo() -> None:
    assert parse_ehlo(EHLO) == ["PIPELINING", "SIZE 10240000", "STARTTLS", "8BITMIME"]
    assert parse_ehlo(b"502 no\r\n") == []


async def test_live_fake_smtpd(fast: GrabOptions) -> None:
    seen: list[bytes] = []

    async def smtpd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"220 mx.lab.test ESMTP Postfix (Debian/GNU)\r\n")
        while line := await r.readline():
            seen.append(line)
            if line.startswith(b"EHLO"):
                w.write(EHLO)
            elif line.startswith(b"VRFY"):
                w.write(b"252 2.5.2 Cannot VRFY user\r\n")
            elif line.startswith(b"EXPN"):
                w.write(b"502 5.5.1 EXPN not available\r\n")
            else:
                w.write(b"221 2.0.0 Bye\r\n")
            await w.drain()

    async with serve(smtpd, "127.20.250.41") as port:
        res = await grab_endpoint(Endpoint("127.20.250.41", port), fast)
    assert res.status == "success", res.error
    assert res.service == "smtp"
    smtp = res.sections["smtp"]
    assert smtp["banner"] == "mx.lab.test ESMTP Postfix (Debian/GNU)"
    assert smtp["starttls"] is True and "PIPELINING" in smtp["ehlo"]
    assert smtp["vrfy"] == {"code": 252, "text": "2.5.2 Cannot VRFY user"}
    assert smtp["expn"] == {"code": 502, "text": "5.5.1 EXPN not available"}
    assert seen == [b"EHLO netatlas.invalid\r\n", b"VRFY postmaster\r\n",
                    b"EXPN postmaster\r\n", b"QUIT\r\n"]
