import hashlib
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.protocols.tls import cert_facts
from netatlas.model import Endpoint

from .conftest import serve


def make_cert(expired: bool) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "old.lab.test"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab Org"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
        ]
    )
    now = datetime.now(UTC)
    start, end = (
        (now - timedelta(days=400), now - timedelta(days=35))
        if expired
        else (now - timedelta(days=1), now + timedelta(days=30))
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0xABCDEF)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("old.lab.test"), x509.DNSName("*.lab.test")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.DER), key_pem


def test_cert_facts_expired_self_signed() -> None:
    der, _ = make_cert(expired=True)
    c = cert_facts(der)
    assert c["subject"] == {"CN": "old.lab.test", "O": "Lab Org", "C": "NL"}
    assert c["issuer"] == c["subject"]
    assert c["serial"] == "abcdef"
    assert c["sig_alg"] == "ecdsa-with-SHA256"
    assert c["expired"] is True and c["self_signed"] is True
    assert c["san"] == ["old.lab.test", "*.lab.test"]
    assert c["pubkey"]["type"] == "ec" and c["pubkey"]["bits"] == 256
    assert c["fingerprint"]["sha256"] == hashlib.sha256(der).hexdigest()
    assert datetime.fromisoformat(c["expires"]) < datetime.now(UTC)


def test_cert_facts_rejects_garbage() -> None:
    try:
        cert_facts(b"\x30\x03\x02\x01\x00")
    except ValueError:
        return
    raise AssertionError("garbage DER parsed")


async def test_live_tls_http_with_expired_cert(tmp_path: Path, fast: GrabOptions) -> None:
    der, key_pem = make_cert(expired=True)
    (tmp_path / "c.pem").write_text(ssl.DER_cert_to_PEM_cert(der))
    (tmp_path / "k.pem").write_bytes(key_pem)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    sctx.set_alpn_protocols(["http/1.1"])

    async def handler(r, w):  # type: ignore[no-untyped-def]
        await r.readuntil(b"\r\n\r\n")
        body = b"<title>tls page</title>"
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await w.drain()

    async with serve(handler, "127.20.250.20", sctx) as port:
        res = await grab_endpoint(Endpoint("127.20.250.20", port), fast)
    assert res.status == "success", res.error
    assert res.tls is True and res.service == "http"
    s = res.sections["ssl"]
    assert s["version"] in ("TLSv1.2", "TLSv1.3") and s["alpn"] == "http/1.1"
    assert s["cipher"]["bits"] >= 128 and s["chain_length"] == 1
    assert s["cert"]["expired"] is True and s["cert"]["self_signed"] is True
    # judged after the handshake: trust, the scanned name, versions, JARM
    assert (s["verified"], s["verify_error"]) == (False, "self-signed certificate")
    assert s["hostname"] == "127.20.250.20" and s["hostname_match"] is False  # DNS SANs only
    assert "TLSv1.2" in s["versions"] and s["weak_ciphers"] == {}
    assert len(s["jarm"]) == 62
    assert res.sections["http"]["title"] == "tls page"
