from netatlas.grab.protocols.memcached import parse_stats, reply_complete

STATS = (
    b"STAT pid 812\r\nSTAT uptime 3600\r\nSTAT version 1.6.18\r\n"
    b"STAT libevent 2.1.12-stable\r\nSTAT curr_connections 2\r\nSTAT rusage_user 0.1\r\n"
    b"STAT limit_maxbytes 67108864\r\nEND\r\n"
)


def test_parse_stats() -> None:
    assert parse_stats(STATS) == {
        "pid": 812,
        "uptime": 3600,
        "version": "1.6.18",
        "libevent": "2.1.12-stable",
        "curr_connections": 2,
        "limit_maxbytes": 67108864,
    }
    assert parse_stats(b"ERROR\r\n") is None


def test_reply_complete() -> None:
    assert reply_complete(STATS) and not reply_complete(STATS[:30])
    assert reply_complete(b"ERROR\r\n")
