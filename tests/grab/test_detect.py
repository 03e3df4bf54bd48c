import pytest

from netatlas.grab.engine.detect import classify_greeting, probe_order, tables


@pytest.mark.parametrize(
    ("greeting", "port", "proto"),
    [
        (b"SSH-2.0-OpenSSH_9.2p1\r\n", 22, "ssh"),
        (b"220 (vsFTPd 3.0.3)\r\n", 2121, "ftp"),
        (b"220-FileZilla Server 1.7\r\n", 0, "ftp"),
        (b"220 mx.example ESMTP Postfix\r\n", 2525, "smtp"),
        (b"220 mail.example Microsoft ESMTP MAIL Service ready\r\n", 0, "smtp"),
        (b"220 welcome\r\n", 21, "ftp"),
        (b"220 welcome\r\n", 25, "smtp"),
        (b"220 welcome\r\n", 9999, None),
        (b"+OK Dovecot ready.\r\n", 110, "pop3"),
        (b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", 143, "imap"),
        (b"RFB 003.008\n", 5900, "vnc"),
        (b"\xff\xfd\x18\xff\xfd\x20", 23, "telnet"),
        (b"\x00\xc3\x28hello", 1234, None),
    ],
)
def test_classify_greeting(greeting: bytes, port: int, proto: str | None) -> None:
    assert classify_greeting(greeting, port) == proto


def test_probe_order() -> None:
    assert probe_order(8080)[0] == "http"
    assert probe_order(443)[0] == "tls"
    assert probe_order(6379)[0] == "redis"
    assert probe_order(5432)[0] == "postgresql"
    assert probe_order(11211)[0] == "memcached"
    assert probe_order(12345) == list(tables().default_order)
    assert sorted(probe_order(80)) == sorted(tables().default_order)  # each once
