import asyncio
import base64
import hashlib
import struct

import pytest

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.ssh import hassh_server, key_facts, parse_ident, parse_kexinit
from netatlas.model import Endpoint

from .conftest import serve

# `ssh-keygen -t ed25519` output and `ssh-keygen -l [-E md5]` on it: an independent oracle.
KEY_B64 = "AAAAC3NzaC1lZDI1NTE5AAAAIPkv69r8Y6izknzqZqXA5Oh6yaqbS6/qvoP5zbAkVR3O"
KEY_SHA256 = "SHA256:Sp1SAS/ZfsLMGFN+ZnpVj/vvRzl9XhrG938PAqu0lgs"
KEY_MD5 = "d9:c3:af:50:c3:79:e5:00:b4:7c:ab:12:2c:3f:f7:59"

KEX = "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256"
HOSTKEY = "ssh-ed25519,rsa-sha2-512"
ENC = "chacha20-poly1305@openssh.com,aes128-ctr"
MAC = "hmac-sha2-256-etm@openssh.com,hmac-sha2-256"
COMP = "none,zlib@openssh.com"


def s(x: bytes | str) -> bytes:
    b = x.encode() if isinstance(x, str) else x
    return struct.pack(">I", len(b)) + b


def packet(payload: bytes) -> bytes:
    pad = 8 - (5 + len(payload)) % 8
    pad += 8 if pad < 4 else 0
    return struct.pack(">IB", 1 + len(payload) + pad, pad) + payload + b"\0" * pad


KEXINIT = (
    bytes([20])
    + bytes(range(16))
    + s(KEX)
    + s(HOSTKEY)
    + s(ENC)
    + s(ENC)
    + s(MAC)
    + s(MAC)
    + s(COMP)
    + s(COMP)
    + s("")
    + s("")
    + b"\x00"
    + b"\0\0\0\0"
)


def test_parse_ident() -> None:
    assert parse_ident(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n") == {
        "version_string": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
        "proto": "2.0",
        "software": "OpenSSH_9.2p1",
        "comment": "Debian-2+deb12u3",
    }
    assert parse_ident(b"SSH-1.99-Cisco-1.25\n")["software"] == "Cisco-1.25"
    with pytest.raises(ProtocolError):
        parse_ident(b"HTTP/1.1 400\r\n")


def test_parse_kexinit_and_hassh() -> None:
    k = parse_kexinit(KEXINIT)
    assert k["kex_algorithms"] == KEX.split(",")
    assert k["server_host_key_algorithms"] == ["ssh-ed25519", "rsa-sha2-512"]
    assert k["encryption_algorithms_server_to_client"] == ENC.split(",")
    assert k["languages_server_to_client"] == [] and k["first_kex_follows"] is False
    digest, algos = hassh_server(k)
    assert algos == f"{KEX};{ENC};{MAC};{COMP}"
    assert digest == hashlib.md5(f"{KEX};{ENC};{MAC};{COMP}".encode()).hexdigest()


@pytest.mark.parametrize(
    "bad",
    [
        KEXINIT[:40],  # cut inside a name-list
        bytes([21]) + KEXINIT[1:],  # not KEXINIT
        KEXINIT[:17] + struct.pack(">I", 0xFFFFFFF0) + b"x",  # name-list length lies
    ],
)
def test_parse_kexinit_rejects(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_kexinit(bad)


def test_key_facts_match_ssh_keygen() -> None:
    f = key_facts(base64.b64decode(KEY_B64))
    assert f == {
        "type": "ssh-ed25519",
        "key": KEY_B64,
        "fingerprint": KEY_MD5,
        "fingerprint_sha256": KEY_SHA256,
    }


async def fake_sshd(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """Ident, KEXINIT, and a KEX_ECDH_REPLY carrying the known key (sig not checked)."""
    w.write(b"SSH-2.0-FakeSSH_1.0 lab\r\n")
    assert (await r.readline()).startswith(b"SSH-2.0-")
    w.write(packet(KEXINIT))
    while True:
        length, pad = struct.unpack(">IB", await r.readexactly(5))
        payload = (await r.readexactly(length - 1))[: length - 1 - pad]
        if payload[0] == 30:
            blob = base64.b64decode(KEY_B64)
            w.write(packet(bytes([31]) + s(blob) + s(b"q" * 32) + s(b"sig")))
            await w.drain()
            await r.read()
            return


async def test_live_fake_sshd(fast: GrabOptions) -> None:
    async with serve(fake_sshd, "127.20.250.30") as port:
        res = await grab_endpoint(Endpoint("127.20.250.30", port), fast)
    assert res.status == "success", res.error
    assert res.service == "ssh" and res.data == b"SSH-2.0-FakeSSH_1.0 lab\r\n"
    assert res.responses["NULL"] == res.data
    ssh = res.sections["ssh"]
    assert ssh["software"] == "FakeSSH_1.0" and ssh["comment"] == "lab"
    assert ssh["type"] == "ssh-ed25519" and ssh["fingerprint_sha256"] == KEY_SHA256
    assert ssh["kex"]["encryption_algorithms"] == ENC.split(",")


async def test_oversized_packet_is_protocol_error(fast: GrabOptions) -> None:
    async def liar(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"SSH-2.0-Liar\r\n")
        await r.readline()
        w.write(struct.pack(">IB", 0x7FFFFFFF, 4))  # claims a 2 GiB packet
        await w.drain()
        await asyncio.sleep(30)

    async with serve(liar, "127.20.250.31") as port:
        res = await grab_endpoint(Endpoint("127.20.250.31", port), fast)
    assert res.status == "protocol-error" and "length" in (res.error or "")
    assert res.sections["ssh"]["software"] == "Liar"  # what we learned stays


async def test_hostkey_trouble_keeps_the_rest(fast: GrabOptions) -> None:
    async def mute_after_kexinit(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"SSH-2.0-Mute_1\r\n")
        await r.readline()
        w.write(packet(KEXINIT))
        await w.drain()
        await asyncio.sleep(3600)  # never answers our KEX_ECDH_INIT

    async with serve(mute_after_kexinit, "127.20.250.32") as port:
        res = await grab_endpoint(Endpoint("127.20.250.32", port), fast)
    ssh = res.sections["ssh"]
    assert res.status == "success" and ssh["hassh"] and "hostkey_error" in ssh
    assert "fingerprint_sha256" not in ssh
