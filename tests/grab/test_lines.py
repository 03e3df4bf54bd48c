from netatlas.grab.engine.lines import parse_reply, reply_complete


def test_reply_complete() -> None:
    assert reply_complete(b"220 ready\r\n")
    assert reply_complete(b"220\r\n")
    assert not reply_complete(b"220 rea")
    assert not reply_complete(b"220-first\r\n")
    assert not reply_complete(b"220-first\r\n more\r\n")
    assert reply_complete(b"220-first\r\n more\r\n220 last\r\n")


def test_parse_reply() -> None:
    code, lines = parse_reply(b"220-Welcome\r\n  to lab\r\n220 FTP ready\r\n")
    assert code == 220 and lines == ["Welcome", "to lab", "FTP ready"]
    assert parse_reply(b"garbage") == (None, ["garbage"])
