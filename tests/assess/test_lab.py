"""Against the real lab: grab + identify + assess every service, and compare the findings
with what each service really exposes (precision and recall). Needs the ``lab`` fixture."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from netatlas.assess import CveDB, assess
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.identify import Identifier
from netatlas.model import Endpoint, Observation
from netatlas.store import open_store
from tests.labsvc import running_services

pytestmark = pytest.mark.lab

DATA = Path(__file__).parent / "data" / "nvd-lab.json"

# Ground truth by lab service name: the findings it must have, and no others. Every
# running lab service must be listed (a new service without a line fails the test).
EXPECTED: dict[str, set[str]] = {
    "nginx-http": set(),
    "nginx-https": {"tls-self-signed"},
    # TLS 1.0-1.2, NULL + anonymous suites, expired 1024-bit cert, private CA (the cert is
    # for another name, but the lab is scanned by address: no hostname-mismatch)
    "nginx-tls-legacy": {"tls-expired", "tls-weak-version", "tls-insecure-cipher",
                         "tls-untrusted", "tls-short-key"},
    "nginx-tls-modern": {"tls-self-signed"},  # TLS 1.3 only, HTTP/2, the lab's own cert
    "nginx-alt": set(),
    "ssh": set(),
    "ssh-alt": set(),
    "ssh-odd": set(),
    "redis": {"redis-no-auth"},
    "redis-odd": {"redis-no-auth"},
    "redis-auth": set(),
    "ftp": {"ftp-anonymous", "cleartext-login"},  # vsftpd without ssl_enable
    "postgresql": set(),
    "memcached": {"memcached-open"},
    "memcached-odd": {"memcached-open"},
    "smtp": set(),  # Exim offers STARTTLS, refuses VRFY/EXPN
    "smtp-vrfy": {"smtp-user-enum"},  # Exim answering VRFY/EXPN postmaster with 250
    "apache": set(),
    "lighttpd": set(),
    "pop3": {"cleartext-login"},  # Dovecot without TLS
    "imap": {"cleartext-login"},
    "mariadb": set(),
    "mqtt": {"mqtt-anonymous"},  # Mosquitto with allow_anonymous true
    "snmp": {"snmp-public"},  # Net-SNMP with rocommunity public
    "snmp-private": set(),  # a random community: only v3 discovery answers
    "ntp": set(),
    "dns-udp": set(),
    "modbus": {"ics-modbus-exposed"},  # pymodbus answering Read Device Identification
    "modbus-odd": {"ics-modbus-exposed"},
    "s7": {"ics-s7-exposed"},  # python-snap7 accepting S7 setup communication
    "s7-odd": {"ics-s7-exposed"},
    "bacnet": {"ics-bacnet-exposed"},  # bacpypes3 device answering ReadProperty (UDP)
    "haproxy-stats": {"admin-console"},
    "squid": set(),  # denies every request
    "squid-open": {"open-proxy"},  # forwards to the lab's /24 for anyone
    "etcd": {"etcd-open"},
    "prometheus": {"monitoring-exposed"},
    "dns": set(),
    "ldap-odd": {"ldap-anonymous-read"},  # slapd's default access: entries readable
    "dns-odd": set(),
    "kerberos-odd": set(),
    "jupyter": set(),  # token required
    "smb": {"smb-null-session", "smb-signing-not-required"},  # Samba, map to guest
    "smb-strict": set(),  # signing mandatory, encryption required: anonymous refused
    "smb-legacy": {"smb1-enabled", "smb-null-session", "smb-signing-not-required"},  # NT1
    "rdp": {"rdp-no-nla", "tls-self-signed"},  # xrdp: TLS or standard RDP, no CredSSP
    "sip": set(),  # Kamailio answering OPTIONS
    "sip-udp": set(),  # the same over UDP
    "jupyter-open": {"jupyter-no-token"},  # no token, no password: /api/status answers
    "jupyterlab-open": {"jupyter-no-token"},  # jupyter lab, no token: / -> /lab
    "web-exposed": {"git-exposed", "env-exposed", "http-dir-listing"},  # nginx, git docroot
    "influxdb": {"influxdb-open"},  # InfluxDB 1.x without auth-enabled
    "influxdb-auth": set(),  # auth-enabled: SHOW DATABASES is refused
    "tomcat": {"default-page"},  # Debian's "It works !" ROOT page
    "tomcat-custom": set(),  # a custom index page: named from its error page, no finding
    # STARTTLS / STLS offered but a plaintext login allowed before it: still cleartext
    "pop3-starttls": {"cleartext-login"},
    "imap-starttls": {"cleartext-login"},
    "imap-strict": set(),  # LOGINDISABLED until STARTTLS
    "tensorboard": {"ai-tensorboard"},
    "streamlit": {"ai-streamlit"},
    "nats": {"nats-no-auth"},  # nats-server without authorization, on port 14222
    "zookeeper": {"zookeeper-no-auth"},  # standalone, no SASL: ls / answers
    "rtsp": {"rtsp-no-auth"},  # GStreamer RTSP server: DESCRIBE / answers with SDP
    "rtsp-auth": set(),  # 401 with Basic: credentials required
    "rsync": {"rsync-anonymous-modules"},  # rsync daemon: [pub] open, [private] auth users
    "x11-open": {"x11-open"},  # Xvfb -ac: connection setup answered Success
    "x11-auth": set(),  # Xvfb -auth: "Authorization required" without the cookie
}


@pytest.fixture
def lab_services(request: pytest.FixtureRequest) -> list[Any]:
    return running_services(request)


def lab_options(services: list[Any]) -> GrabOptions:
    """The lab's nginx as the open-proxy canary; only the lab's /24 is in scope."""
    nginx = next(s for s in services if s.name == "nginx-http")
    net = nginx.ip.rsplit(".", 1)[0] + "."
    return GrabOptions(proxy_canary=f"http://{nginx.ip}/",
                       in_scope=lambda host: host.startswith(net))


async def observe(svc: Any, opts: GrabOptions | None = None) -> Observation:
    ep = Endpoint(svc.ip, svc.port, svc.transport)
    result = await grab_endpoint(ep, opts or GrabOptions())
    ident = Identifier().identify(result, ep)
    return Observation.build(ep, "lab-test", result, ident)


async def test_lab_findings_precision_recall(lab_services: list[Any]) -> None:
    tp = fp = fn = 0
    rows: list[str] = []
    unlisted = sorted(s.name for s in lab_services if s.name not in EXPECTED)
    assert not unlisted, f"lab services without expected findings: {unlisted}"
    opts = lab_options(lab_services)
    observed = await asyncio.gather(*(observe(svc, opts) for svc in lab_services))
    for svc, obs in zip(lab_services, observed, strict=True):
        found = {f.id for f in assess(obs)}
        want = EXPECTED[svc.name]
        tp += len(found & want)
        fp += len(found - want)
        fn += len(want - found)
        row = f"{svc.name:12} want={sorted(want)} got={sorted(found)}"
        if found != want:  # what the grab saw, so a CI failure can be read, not guessed
            row += f"  <- service={obs.service} status={obs.status} error={obs.error}"
        rows.append(row)
    print("\n".join(rows))
    assert rows, "no lab service ran"
    assert fp == 0 and fn == 0, "\n".join(rows)
    assert tp == sum(len(EXPECTED[s.name]) for s in lab_services if s.name in EXPECTED)


async def test_lab_vsftpd_anonymous_and_redis_auth(lab_services: list[Any]) -> None:
    by_name = {s.name: s for s in lab_services}
    if not {"ftp", "redis", "redis-auth"} <= set(by_name):
        pytest.skip("lab ftp/redis not running")
    ftp = await observe(by_name["ftp"])
    assert ftp.sections["ftp"]["anonymous"] is True
    open_redis = await observe(by_name["redis"])
    closed_redis = await observe(by_name["redis-auth"])
    assert "redis-no-auth" in {f.id for f in assess(open_redis)}
    assert closed_redis.sections["redis"]["auth_required"] is True
    assert assess(closed_redis) == []


async def test_lab_cves(lab_services: list[Any], tmp_path: Path) -> None:
    by_name = {s.name: s for s in lab_services}
    store = open_store(tmp_path / "cve.db")
    db = CveDB(store)
    db.import_nvd(DATA)
    got: dict[str, set[str]] = {}
    for name in ("ssh", "nginx-http", "redis", "ftp"):
        if name in by_name:
            o = await observe(by_name[name])
            got[name] = set(db.match(o.cpe, o.version))
    store.close()
    print(got)
    # The lab's Debian 12 versions: OpenSSH 9.2p1, nginx 1.22.1, Redis 7.0.15, vsftpd 3.0.3.
    want = {
        "ssh": {"CVE-2023-38408", "CVE-2024-6387", "CVE-2023-51385", "CVE-2099-0001"},
        "nginx-http": {"CVE-2023-44487"},  # 1.22.1 is the fix of CVE-2022-41741
        "redis": {"CVE-2024-31449"},  # 7.0.15 is the fix of CVE-2023-41056
        "ftp": {"CVE-2021-30047"},
    }
    assert got == {k: v for k, v in want.items() if k in got}
