"""The findings each lab service must raise, and nothing else: the ground truth the
risk checks are scored against (tests/assess/test_lab.py asserts it, bench/checks.py
prints precision and recall per check). Every service grabbed, identified and assessed
as a scan does, one connection plan per endpoint, with the lab's own nginx as the
open-proxy canary and only the lab's /24 in scope."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.identify import Identifier
from netatlas.model import Endpoint, GrabResult, Observation, Transport

# By lab service name (services.CATALOGUE). Every lab service must be listed: a new
# service without a line fails tests/assess/test_lab.py.
EXPECTED: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in {
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
    # Debian's ClickHouse with Debian's users.xml (default: no password, ::/0)
    "clickhouse-http": {"clickhouse-no-auth"},  # SELECT version() answered
    # its native port: netatlas sends it no Hello (no query is run there); the same
    # server's HTTP port carries the finding
    "clickhouse-native": set(),
    "clickhouse-auth-http": set(),  # Code 194: password required for user default
    "clickhouse-auth-native": set(),
    "podman-api": {"docker-api-open"},  # podman system service: /version answered
    # Spark's master: the UI lists (and kills) applications, the REST server submits them
    "spark-rpc": {"spark-master-open"},  # no SASL asked: spark.authenticate is off
    "spark-ui": {"spark-master-open", "admin-console"},
    "spark-rest": {"spark-master-open"},
    "airflow": set(),  # /api/v2/dags: 401 (its /api/v2/version answers anyone)
    "airflow-open": {"airflow-api-open"},  # all admins: /api/v2/dags answered
}.items()}


class LabEndpoint(Protocol):
    """What scoring needs of a lab service (services.LabService has it)."""

    @property
    def name(self) -> str: ...
    @property
    def ip(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def transport(self) -> str: ...


def lab_options(services: Sequence[LabEndpoint]) -> GrabOptions:
    """The lab's nginx as the open-proxy canary; only the lab's /24 is in scope."""
    nginx = next(s for s in services if s.name == "nginx-http")
    net = nginx.ip.rsplit(".", 1)[0] + "."
    return GrabOptions(proxy_canary=f"http://{nginx.ip}/",
                       in_scope=lambda host: host.startswith(net))


def _endpoint(svc: LabEndpoint) -> Endpoint:
    return Endpoint(svc.ip, svc.port, cast(Transport, svc.transport))


def _identified(ep: Endpoint, result: GrabResult, identifier: Identifier) -> Observation:
    return Observation.build(ep, "lab-test", result, identifier.identify(result, ep))


async def observe(svc: LabEndpoint, opts: GrabOptions | None = None,
                  identifier: Identifier | None = None) -> Observation:
    ep = _endpoint(svc)
    result = await grab_endpoint(ep, opts or GrabOptions())
    return _identified(ep, result, identifier or Identifier())


async def observe_all(services: Sequence[LabEndpoint]) -> list[Observation]:
    """Every service grabbed at once, then identified by one identifier. Identification
    is CPU work in this thread: done between grabs, it stalled the grabs still talking
    (on a loaded machine one ran out its total timeout waiting for the loop)."""
    opts, identifier = lab_options(services), Identifier()
    eps = [_endpoint(s) for s in services]
    results = await asyncio.gather(*(grab_endpoint(ep, opts) for ep in eps))
    return [_identified(ep, result, identifier)
            for ep, result in zip(eps, results, strict=True)]


@dataclass(slots=True)
class CheckScore:
    """One check over the lab: findings right, raised where not expected, missed."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    false_at: list[str] = field(default_factory=list)
    missed_at: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def per_check(found: Mapping[str, Iterable[str]]) -> dict[str, CheckScore]:
    """Per check id, from the findings raised per lab service name (every name must be
    in EXPECTED): a raised finding that is expected is a true positive, one that is not
    a false one, an expected one not raised a miss."""
    scores: dict[str, CheckScore] = {}
    for name, ids in found.items():
        got, want = set(ids), EXPECTED[name]
        for check in got | want:
            sc = scores.setdefault(check, CheckScore())
            if check in got and check in want:
                sc.tp += 1
            elif check in got:
                sc.fp += 1
                sc.false_at.append(name)
            else:
                sc.fn += 1
                sc.missed_at.append(name)
    return dict(sorted(scores.items()))


def total(scores: Mapping[str, CheckScore]) -> CheckScore:
    out = CheckScore()
    for sc in scores.values():
        out.tp, out.fp, out.fn = out.tp + sc.tp, out.fp + sc.fp, out.fn + sc.fn
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f} %"


def table(scores: Mapping[str, CheckScore], services: int) -> str:
    """A Markdown table: one row a check, then all of them together."""
    lines = ["| check | expected | raised right | false | missed | precision | recall |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for check, sc in scores.items():
        note = "".join([f" (false at {', '.join(sc.false_at)})" if sc.false_at else "",
                        f" (missed at {', '.join(sc.missed_at)})" if sc.missed_at else ""])
        lines.append(f"| `{check}`{note} | {sc.tp + sc.fn} | {sc.tp} | {sc.fp} | {sc.fn} | "
                     f"{_pct(sc.precision)} | {_pct(sc.recall)} |")
    t = total(scores)
    lines.append(f"| all {len(scores)} checks, {services} services | {t.tp + t.fn} | {t.tp} | "
                 f"{t.fp} | {t.fn} | {_pct(t.precision)} | {_pct(t.recall)} |")
    return "\n".join(lines)
