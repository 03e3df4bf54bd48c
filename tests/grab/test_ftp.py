import asyncio

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.ftp import parse_feat, parse_syst
from netatlas.model import Endpoint

from .conftest import serve

FEAT = b"211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n REST STREAM\r\n211 End\r\n"


def test_parse_feat_and_syst() -> None:
    assert parse_feat(FEAT) == ["EPRT", "EPSV", "MDTM", "REST STREAM"]
    assert parse_feat(b"500 unknown\r\n") == []
    assert parse_syst(b"215 UNIX Type: L8\r\n") == "UNIX Type: L8"
    assert parse_syst(b"530 Please login with USER and PASS.\r\n") is None


async def fake_ftpd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    w.write(b"220-Welcome to the lab\r\n220 ProFTPD Server ready.\r\n")
    replies = {b"FEAT": FEAT, b"SYST": b"215 UNIX Type: L8\r\n", b"QUIT": b"221 Bye\r\n"}
    while line := await r.readline():
        w.write(replies.get(line.strip(), b"500 ?\r\n"))
        await w.drain()


async def test_live_fake_ftpd(fast: GrabOptions) -> None:
    async with serve(fake_ftpd, "127.20.250.40") as port:
        res = await grab_endpoint(Endpoint("127.20.250.40", port), fast)
    assert res.status == "success", res.error
    assert res.service == "ftp"
    assert res.sections["ftp"] == {
        "banner": "Welcome to the lab\nProFTPD Server ready.",
        "code": 220,
        "features": ["EPRT", "EPSV", "MDTM", "REST STREAM"],
        "syst": "UNIX Type: L8",
    }
    assert res.data.startswith(b"220-Welcome") and res.data.endswith(b"ready.\r\n")
    assert res.responses["NULL"].startswith(b"220-Welcome")
