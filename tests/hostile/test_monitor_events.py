"""A monitor over a hostile server that starts speaking TLS between two runs, with
terminal escapes in its certificate's subject: the cert_changed event's summary quotes the
new CN, and ``monitor run-now``, ``monitor show`` and ``events`` print it on a terminal.
Before the fix they wrote it raw (OSC, CSI, C1, a bidi override). A monitor's name,
which an API user chooses (POST /shodan/alert), is shown escaped too."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import servers as s
from tests.hostile.conftest import FIGURES, on_terminal
from tests.hostile.test_servers import ESCAPED, _assert_inert

NAME = "evil" + s.ESCAPES  # a monitor name as an API user may set it


def _plain_then_tls(handler: s.Handler, ctx: ssl.SSLContext, state: dict[str, bool]) -> s.Handler:
    """``handler`` in the clear until ``state["tls"]``, then behind TLS with ``ctx``."""
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if state["tls"]:
            await asyncio.wait_for(writer.start_tls(ctx), 30)
        await handler(reader, writer)
    return run


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("monitor")
    ctx = s.hostile_cert(tmp, "hostile", cn="cn" + s.ESCAPES)
    page = s.http_response(headers=[("Content-Type", "text/html")], body=b"<title>m</title>")
    state = {"tls": False}
    server = s.Hostile("tls-later", "escapes", _plain_then_tls(s.respond(page), ctx, state))
    outputs: dict[str, str] = {}
    with s.serve_range([server], {}) as rng:
        db = tmp / "monitor.db"
        on_terminal(["monitor", "create", NAME, "-t", server.ip, "-p", str(rng.port),
                     "--allow", f"{server.ip}/32", "--exclude-ports", str(s.FORBIDDEN_PORT),
                     "--every", "1d", "--banner-wait", "0.3"], db)
        on_terminal(["monitor", "run-now", NAME], db)  # plain HTTP: no certificate
        state["tls"] = True  # the same endpoint now shows a certificate with escapes
        for _ in range(3):  # a TLS grab starved on a loaded machine gets another run
            outputs["monitor run-now"] = on_terminal(["monitor", "run-now", NAME], db)[1]
            if "(CN " in outputs["monitor run-now"]:
                break
        assert server.counter.connections > 0
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
