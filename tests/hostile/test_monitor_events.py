"""A monitor over a hostile endpoint that speaks TLS from its second run on, with
terminal escapes in its certificate's subject: the cert_changed event's summary quotes the
new CN, and ``monitor run-now``, ``monitor show`` and ``events`` print it on a terminal.
Before the fix they wrote it raw (OSC, CSI, C1, a bidi override). A monitor's name,
which an API user chooses (POST /shodan/alert), is shown escaped too."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import servers as s
from tests.hostile.conftest import FIGURES, on_terminal
from tests.hostile.test_servers import ESCAPED, _assert_inert

NAME = "evil" + s.ESCAPES  # a monitor name as an API user may set it


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("monitor")
    ctx = s.hostile_cert(tmp, "hostile", cn="cn" + s.ESCAPES)
    page = s.guarded(s.respond(s.http_response(headers=[("Content-Type", "text/html")],
                                               body=b"<title>m</title>")))
    ip = f"{s.NET}.240"  # on the hostile net, beyond the scanned range's addresses
    counter = s.Counter()
    loop = s.Loop()
    outputs: dict[str, str] = {}
    try:
        sock = s.listener(ip)
        port = sock.getsockname()[1]
        plain = loop.serve(sock, page, counter)
        db = tmp / "monitor.db"
        on_terminal(["monitor", "create", NAME, "-t", ip, "-p", str(port),
                     "--allow", f"{ip}/32", "--exclude-ports", str(s.FORBIDDEN_PORT),
                     "--every", "1d", "--banner-wait", "0.3"], db)
        on_terminal(["monitor", "run-now", NAME], db)  # plain HTTP: no certificate
        # the same endpoint now speaks TLS, with escapes in its certificate's subject
        loop.stop(plain)
        again = socket.socket()
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind((ip, port))
        again.listen(64)
        loop.serve(again, page, counter, ctx)
        outputs["monitor run-now"] = on_terminal(["monitor", "run-now", NAME], db)[1]
        assert counter.connections > 0
    finally:
        loop.close()
    for args in (["monitor", "show", NAME], ["monitor", "list"], ["events"]):
        outputs[" ".join(args[:2])] = on_terminal(args, db)[1]
    FIGURES["monitor outputs checked"] = sorted(outputs)
    yield db, outputs


@pytest.mark.parametrize("command", ["monitor run-now", "monitor show", "events"])
def test_event_summaries_are_escaped(monitored: tuple[Path, dict[str, str]],
                                     command: str) -> None:
    _, outputs = monitored
    text = outputs[command]
    assert "cert_changed" in text, text
    _assert_inert(text, ESCAPED)


def test_monitor_names_are_escaped(monitored: tuple[Path, dict[str, str]]) -> None:
    _, outputs = monitored
    _assert_inert(outputs["monitor list"], ("evil\\x1b]0;pwned",))
