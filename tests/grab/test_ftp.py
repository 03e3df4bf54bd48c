import asyncio

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols.ftp import anonymous_verdict, parse_feat, parse_syst
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
        "anonymous": False,  # "500 ?" to USER is a refusal
        "user_code": 500,
    }
    assert res.data.startswith(b"220-Welcome") and res.data.endswith(b"ready.\r\n")
    assert res.responses["NULL"].startswith(b"220-Welcome")


@pytest.mark.parametrize(
    ("user", "password", "expected"),
    [
        (b"331 Please specify the password.\r\n", b"230 Login successful.\r\n", True),
        (b"230 Anonymous access granted\r\n", None, True),
        (b"331 Please specify the password.\r\n", b"530 Login incorrect.\r\n", False),
        (b"530 This FTP server does not allow anonymous logins\r\n", None, False),
        (b"421 Too many users, try later\r\n", None, None),
        (b"331 Password required\r\n", b"421 Timeout\r\n", None),
        (b"garbage", None, None),
    ],
)
def test_anonymous_verdict(user: bytes, password: bytes | None, expected: bool | None) -> None:
    assert anonymous_verdict(user, password) is expected


def make_ftpd(allow_anonymous: bool, seen: list[bytes]):  # type: ignore[no-untyped-def]
    async def ftpd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"220 (vsFTPd 3.0.3)\r\n")
        while line := await r.readline():
            seen.append(line.strip())
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"USER":
                w.write(b"331 Please specify the password.\r\n")
            elif verb == b"PASS":
                ok = allow_anonymous and seen[-2] == b"USER anonymous"
                w.write(b"230 Login successful.\r\n" if ok else b"530 Login incorrect.\r\n")
            elif verb == b"QUIT":
                w.write(b"221 Goodbye.\r\n")
            else:
                w.write(b"500 Unknown command.\r\n")
            await w.drain()

    return ftpd


@pytest.mark.parametrize("allow", [True, False])
async def test_live_anonymous_check(fast: GrabOptions, allow: bool) -> None:
    seen: list[bytes] = []
    async with serve(make_ftpd(allow, seen), "127.20.250.41") as port:
        res = await grab_endpoint(Endpoint("127.20.250.41", port), fast)
    assert res.sections["ftp"]["anonymous"] is allow
    # Non-intrusive: log in, then leave; no listing, no transfer.
    verbs = [s.split(b" ", 1)[0] for s in seen]
    assert set(verbs) <= {b"FEAT", b"SYST", b"USER", b"PASS", b"QUIT"}
    assert b"PASS netatlas@example.invalid" in seen
