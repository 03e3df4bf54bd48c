"""A monitor on loopback addresses, run by the daemon on a short schedule, against real
services this test starts: between two runs a new service is started, another stopped
and a certificate swapped; the events say exactly that, and the alerts reach a real
webhook receiver (signed), a Slack-compatible one, an SMTP server (STARTTLS + AUTH) and
a receiver that is down at first and gets its delivery once it comes up."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from pathlib import Path

from netatlas.monitor.daemon import Daemon
from netatlas.monitor.model import Monitor
from netatlas.monitor.notify.deliver import Backoff
from netatlas.monitor.runner import RunResult
from netatlas.store import open_store
from netatlas.store.monitors import NotifierRow, monitor_tables

from ._services import Receiver, WebService, free_port, make_cert, smtp_server

NET = "127.20.12.0/24"
OLD, NEW, TLS = "127.20.12.10", "127.20.12.11", "127.20.12.12"
PORTS = "8080,8443"
SECRET = "s3cret"


async def _wait(cond, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_two_runs_events_and_alerts(tmp_path: Path) -> None:
    store = open_store(tmp_path / "m.db")
    tables = monitor_tables(store)
    cert1 = make_cert(tmp_path, "one", [TLS], days=365)
    cert2 = make_cert(tmp_path, "two", [TLS], days=10)  # inside the 30-day window
    smtp_cert = make_cert(tmp_path, "smtp", ["127.0.0.1"], days=30)
    hook, slack, late_port = Receiver(free_port()), Receiver(free_port()), free_port()
    smtp_port = free_port()
    controller, mailbox = smtp_server(smtp_port, smtp_cert, "alerts", "pw")
    services = [WebService(OLD, 8080, "nginx/1.22.1"),
                WebService(TLS, 8443, "nginx/1.22.1", cert=cert1)]
    late: Receiver | None = None
    try:
        notifiers = {
            "hook": ("webhook", {"url": f"http://127.0.0.1:{hook.httpd.server_port}/alert",
                                 "secret": SECRET}),
            "slack": ("slack", {"webhook_url":
                                f"http://127.0.0.1:{slack.httpd.server_port}/slack"}),
            "mail": ("email", {"to": "soc@example.org", "host": "127.0.0.1",
                               "port": smtp_port, "username": "alerts", "password": "pw",
                               "ca_file": str(smtp_cert[0])}),
            "late": ("webhook", {"url": f"http://127.0.0.1:{late_port}/late"}),
        }
        for nid, (provider, args) in notifiers.items():
            tables.put_notifier(NotifierRow(nid, provider, {"args": args}))
        monitor = Monitor(name="lab", targets=[OLD, NEW, TLS], allow=[NET], ports=PORTS,
                          exclude_ports="2024", every=3600.0, next_run=time.time(),
                          triggers={"new_service": {}}, notifiers=list(notifiers),
                          options={"banner_wait": 0.5, "timeout": 0.5})
        tables.put_monitor(monitor.to_row())
        runs: list[RunResult] = []
        daemon = Daemon(store, tick=0.05, max_runs=1,
                        backoff=Backoff(base=0.2, cap=0.4, give_up=3600))
        daemon.on_run = runs.append
        stop = asyncio.Event()
        loop = asyncio.create_task(daemon.run(stop))
        await _wait(lambda: len(runs) >= 1)
        first = runs[0]
        assert first.error is None
        assert sorted((e.kind, e.ip, e.port) for e in first.events) == [
            ("appeared", OLD, 8080), ("appeared", TLS, 8443)]
        # between the runs: one service stops, a new one starts, the certificate changes
        services[0].stop()
        services[1].stop()
        services = [WebService(NEW, 8080, "Apache/2.4.57 (Debian)"),
                    WebService(TLS, 8443, "nginx/1.22.1", cert=cert2)]
        # the second run is due now, after the change (with a short `every` it could
        # start while the old services still answered)
        row = tables.get_monitor(monitor.id)
        assert row is not None and tables.claim_monitor(row.id, row.next_run, time.time())
        await _wait(lambda: len(runs) >= 2)
        second = runs[1]
        got = sorted((e.kind, e.ip, e.port) for e in second.events)
        assert got == [("appeared", NEW, 8080), ("cert_changed", TLS, 8443),
                       ("cert_expiring", TLS, 8443), ("disappeared", OLD, 8080)], got
        appeared = next(e for e in second.events if e.kind == "appeared")
        assert appeared.doc["triggers"] == ["new_service"]
        assert appeared.doc["record"]["product"] == "Apache httpd"
        # the signed webhook: the record in the banner shape, HMAC-SHA256 over the body
        await _wait(lambda: len(hook.got) >= 3)
        bodies = {}
        for _path, headers, body in hook.got:
            expect = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Netatlas-Signature"] == expect
            assert headers["SHODAN-ALERT-TRIGGER"] == "new_service"
            record = json.loads(body)
            bodies[(record["ip_str"], record["port"])] = record
        assert set(bodies) == {(OLD, 8080), (TLS, 8443), (NEW, 8080)}
        assert bodies[(NEW, 8080)]["scan_id"] == second.scan_id
        await _wait(lambda: len(slack.got) >= 3 and len(mailbox.messages) >= 3)
        assert any(NEW in json.loads(b)["text"] for _, _, b in slack.got)
        assert any(b"new service" in m[2] and NEW.encode() in m[2] for m in mailbox.messages)
        # the late receiver: refused so far, retried with back-off, delivered once it is up
        pending = tables.deliveries(status="pending")
        assert pending and all(d.notifier_id == "late" and d.attempts >= 1
                               and d.last_error for d in pending)
        late = Receiver(late_port)
        await _wait(lambda: len(late.got) >= 3)  # type: ignore[union-attr]
        await _wait(lambda: not tables.deliveries(status="pending"))
        assert all(d.status == "sent" for d in tables.deliveries())
        stop.set()
        await loop
    finally:
        for s in services:
            s.stop()
        for r in (hook, slack, late):
            if r is not None:
                r.stop()
        controller.stop()
        store.close()
