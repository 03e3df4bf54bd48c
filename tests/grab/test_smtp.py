import asyncio

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.smtp import parse_ehlo
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
            w.write(EHLO if line.startswith(b"EHLO") else b"221 2.0.0 Bye\r\n")
            await w.drain()

    async with serve(smtpd, "127.20.250.41") as port:
        res = await grab_endpoint(Endpoint("127.20.250.41", port), fast)
    assert res.status == "success", res.error
    assert res.service == "smtp"
    smtp = res.sections["smtp"]
    assert smtp["banner"] == "mx.lab.test ESMTP Postfix (Debian/GNU)"
    assert smtp["starttls"] is True and "PIPELINING" in smtp["ehlo"]
    assert seen == [b"EHLO netatlas.invalid\r\n", b"QUIT\r\n"]
