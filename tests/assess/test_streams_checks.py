"""kafka-no-auth, cassandra-no-auth and onvif-exposed: through the real grabber,
identification and checks, against the spec-built servers of tests/grab/test_kafka.py,
test_cassandra.py and test_onvif.py (no real Kafka, Cassandra or ONVIF device is
installable here; each server's docstring names the specification it follows).
Positive and negative (authentication required) cases, and near misses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from netatlas.assess import CHECKS, assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.identify import Identifier
from netatlas.model import Endpoint, Observation
from tests.grab.conftest import serve
from tests.grab.test_cassandra import PASSWORD, SCYLLA, CqlServer
from tests.grab.test_kafka import Broker
from tests.grab.test_onvif import camera
from tests.grab.udpserver import HOST as UDP_HOST
from tests.grab.udpserver import udp_server

HOST = "127.20.250.93"
OPTS = GrabOptions(banner_wait=0.3, read_timeout=1.0, connect_timeout=1.0,
                   total_timeout=8.0, nmap_probes=None)


def build(ep: Endpoint, res: Any) -> Observation:
    assert res.status == "success", res.error
    ident = Identifier(nmap=None, fingerprints=None).identify(res, ep)
    obs = Observation.build(ep, "streams-test", res, ident)
    obs.risks = assess(obs)
    return obs


async def observe_tcp(handler: Any) -> Observation:
    async with serve(handler, HOST) as port:
        ep = Endpoint(HOST, port)
        return build(ep, await grab_endpoint(ep, OPTS))


def risk_ids(obs: Observation) -> set[str]:
    return {r.id for r in obs.risks}


def test_the_checks_are_in_the_table() -> None:
    table = {c.id: c.severity for c in CHECKS}
    assert table["kafka-no-auth"] == "high" and table["cassandra-no-auth"] == "high"
    assert table["onvif-exposed"] == "medium"


async def test_open_kafka() -> None:
    obs = await observe_tcp(Broker())
    assert (obs.service, obs.product, obs.version) == ("kafka", "Apache Kafka", None)
    assert obs.info == ">=3.7.0, <3.8.0" and "cpe:/a:apache:kafka" in obs.cpe
    [risk] = [r for r in obs.risks if r.id == "kafka-no-auth"]
    assert risk.severity == "high"
    assert "Metadata answered without SASL: 2 broker(s)" in risk.evidence
    assert "'orders, payments'" in risk.evidence and "3 topic(s)" in risk.evidence


async def test_sasl_kafka_is_not_a_finding() -> None:
    obs = await observe_tcp(Broker(sasl=True))
    assert obs.product == "Apache Kafka" and obs.sections["kafka"]["auth_required"] is True
    assert "kafka-no-auth" not in risk_ids(obs)


async def test_open_cassandra() -> None:
    obs = await observe_tcp(CqlServer())
    assert (obs.product, obs.version) == ("Apache Cassandra", "4.1.3")
    assert "cpe:/a:apache:cassandra:4.1.3" in obs.cpe and "database" in obs.tags
    [risk] = [r for r in obs.risks if r.id == "cassandra-no-auth"]
    assert risk.evidence == ("Cassandra answered STARTUP with READY, no credentials asked "
                             "(CQL '3.4.6', release_version '4.1.3', cluster 'Lab Cluster')")


async def test_cassandra_with_a_password_authenticator_is_not_a_finding() -> None:
    obs = await observe_tcp(CqlServer(authenticator=PASSWORD))
    assert obs.product == "Apache Cassandra" and obs.info == "CQL 3.4.6"
    assert "cassandra-no-auth" not in risk_ids(obs)


async def test_open_scylla_is_named_scylla() -> None:
    obs = await observe_tcp(CqlServer(SCYLLA, (3, 4), release="3.0.8"))
    assert obs.product == "ScyllaDB" and obs.version is None  # not Cassandra's 3.0.8
    [risk] = [r for r in obs.risks if r.id == "cassandra-no-auth"]
    assert risk.evidence.startswith("ScyllaDB answered STARTUP with READY")
    assert "3.0.8" not in risk.evidence


async def test_onvif_camera_is_tagged_and_rated() -> None:
    async with udp_server(camera) as (port, _):
        ep = Endpoint(UDP_HOST, port, "udp")
        obs = build(ep, await grab_endpoint(ep, OPTS))
    assert obs.service == "onvif" and obs.product == "Hikvision IP camera"
    assert obs.devicetype == "webcam" and "camera" in obs.tags
    assert "cpe:/h:hikvision:ds-2cd2143g2-i" in obs.cpe
    [risk] = [r for r in obs.risks if r.id == "onvif-exposed"]
    assert risk.severity == "medium"
    assert "XAddrs 'http://127.20.250.37/onvif/device_service'" in risk.evidence
    assert "hardware 'DS-2CD2143G2-I'" in risk.evidence


def record(**sections: dict[str, Any]) -> Observation:
    return Observation(ip="127.20.0.9", port=1, transport="tcp",
                       timestamp=datetime(2026, 12, 5, tzinfo=UTC), scan_id="s",
                       sections=dict(sections))


@pytest.mark.parametrize(("check_id", "rec"), [
    ("kafka-no-auth", record(kafka={"auth_required": True})),
    ("kafka-no-auth", record(kafka={"auth_required": False, "brokers": []})),  # nothing said
    ("kafka-no-auth", record(kafka={"error_code": 0, "metadata_error": "no answer"})),
    ("cassandra-no-auth", record(cassandra={"auth_required": True,
                                            "authenticator": PASSWORD})),
    ("cassandra-no-auth", record(cassandra={"error": {"code": 10, "message": "version"}})),
    ("cassandra-no-auth", record(cassandra={"auth_required": None})),
    ("onvif-exposed", record(onvif={"xaddrs": [], "scopes": []})),
    ("onvif-exposed", record(rtsp={"status": 401})),
])
def test_near_misses(check_id: str, rec: Observation) -> None:
    assert check_id not in {f.id for f in assess(rec)}
