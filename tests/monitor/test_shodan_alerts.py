"""The official ``shodan`` client and CLI drive netatlas monitors through the alert API
of a real ``netatlas serve`` on 127.0.0.1: ``alert create``, ``alert list``, ``alert
triggers``, ``alert enable``, a webhook notifier created and attached with the client;
the next run (``netatlas monitor run-now``) fires the webhook at a receiver the test
started. Alerts outside the server's allow list are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import shodan

from ._services import Receiver, WebService, free_port

NET = "127.20.12.0/24"
HOST, PORT = "127.20.12.50", 1021  # inside the server's allow list and 1-1024


def _netatlas(*args: str) -> list[str]:
    return [sys.executable, "-m", "netatlas.cli.main", *args]


def test_shodan_cli_alerts(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    key = json.loads(subprocess.run(
        _netatlas("keys", "create", "--db", str(db), "--role", "scan", "--json",
                  "--rate", "1000", "--burst", "1000"),
        capture_output=True, text=True, check=True, timeout=60).stdout)["key"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NO_PROXY": "*", "HOME": str(tmp_path), "SHODAN_API_URL": base,
           "http_proxy": "", "https_proxy": "", "HTTP_PROXY": "", "HTTPS_PROXY": ""}
    server = subprocess.Popen(
        _netatlas("serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port),
                  "--allow", NET), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    receiver = Receiver(free_port())
    service: WebService | None = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/openapi.json", timeout=1, trust_env=False).is_success:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)

        def sh(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
            out = subprocess.run([sys.executable, "-m", "shodan", *args], capture_output=True,
                                 text=True, timeout=60, env=env, cwd=tmp_path)
            assert (out.returncode == 0) == ok, f"shodan {args}: {out.stdout}\n{out.stderr}"
            return out

        sh("init", key)
        created = sh("alert", "create", "lab", HOST).stdout
        alert_id = created.split("Alert ID:")[1].split()[0]
        assert "new_service" in sh("alert", "triggers").stdout
        assert "Successfully enabled" in sh("alert", "enable", alert_id, "new_service").stdout
        listed = sh("alert", "list").stdout
        assert alert_id in listed and HOST in listed and "new_service" in listed
        assert sh("alert", "create", "outside", "127.30.0.1", ok=False).returncode != 0

        api = shodan.Shodan(key)
        api.base_url, api.api_rate_limit = base, 0
        api._session.trust_env = False
        url = f"http://127.0.0.1:{receiver.httpd.server_port}/hook"
        notifier = api.notifier.create("webhook", {"url": url}, description="test hook")
        assert notifier["success"]
        api.add_alert_notifier(alert_id, notifier["id"])
        info = api.alerts(aid=alert_id)
        assert info["filters"]["ip"] == [HOST] and "new_service" in info["triggers"]
        assert [n["id"] for n in info["notifiers"]] == [notifier["id"]]
        assert "webhook" in api.notifier.list_providers()
        api.ignore_alert_trigger_notification(alert_id, "new_service", HOST, 9)
        assert api.alerts(aid=alert_id)["triggers"]["new_service"]["ignore"] == [
            {"ip": HOST, "port": 9}]

        # the next run sees a new service: the webhook fires with its record
        service = WebService(HOST, PORT, "nginx/1.22.1")
        run = subprocess.run(_netatlas("monitor", "run-now", alert_id, "--db", str(db)),
                             capture_output=True, text=True, timeout=120, env=env)
        assert run.returncode == 0, run.stderr
        assert "appeared" in run.stdout
        assert receiver.arrived.wait(30)
        _, headers, body = receiver.got[0]
        record = json.loads(body)
        assert (record["ip_str"], record["port"]) == (HOST, PORT)
        assert headers["SHODAN-ALERT-ID"] == alert_id
        events = httpx.get(base + "/api/v1/events", params={"key": key, "q": "port:1021"},
                           trust_env=False).json()
        assert [e["kind"] for e in events["matches"]] == ["appeared"]
        api.delete_alert(alert_id)
        assert api.alerts() == []
    finally:
        if service is not None:
            service.stop()
        receiver.stop()
        server.terminate()
        server.wait(timeout=10)
