"""Shared types passed between the stages of the flow.

scope -> discover yields ``Endpoint``; grab turns an endpoint into a ``GrabResult``;
identify turns a grab result into an ``Identification``; the pipeline joins them
into an ``Observation`` (the unit stored and searched, like a Shodan "banner").
No stage reaches into another's internals: these types are the whole contract.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

Transport = Literal["tcp", "udp"]
_D = TypeVar("_D")


def pickled_by_fields(cls: type[_D]) -> type[_D]:
    """Pickle a slots dataclass as its constructor and field values. Python's own
    pickling of one (``__getstate__`` / ``__setstate__``) calls ``dataclasses.fields``
    per object: unpickling an Observation took 15 us, 2 us this way; what encoding
    workers send (store/encoding.py) pays it per row. Every field must be an
    ``__init__`` argument."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        return cls, tuple(getattr(self, n) for n in names)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls

# Closed set of status words for a probe or grab (ZGrab2 style): a failed grab is
# still a useful record.
STATUSES = (
    "success",
    "connection-refused",
    "connection-timeout",
    "io-timeout",
    "protocol-error",
    "application-error",
    "unknown-error",
)


@dataclass(frozen=True, slots=True, order=True)
class Endpoint:
    """One (address, port, transport) the scope allows us to touch."""

    ip: str
    port: int
    transport: Transport = "tcp"

    @property
    def ip_obj(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self.ip)

    def __str__(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}/{self.transport}"


@dataclass(slots=True)
class GrabResult:
    """What the grabbers learned by talking to one open endpoint.

    ``data`` is the primary banner bytes (greeting, or the raw HTTP response head),
    capped. ``sections`` holds protocol facts keyed by record section name
    ("http", "ssl", "ssh", "ftp", "smtp", "redis", "postgresql", ...).
    ``responses`` keeps raw bytes per probe name ("NULL", "GetRequest", ...), capped,
    so identify can run nmap-style matchers over exactly what each probe returned.
    """

    status: str = "success"
    service: str | None = None
    data: bytes = b""
    tls: bool = False
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    responses: dict[str, bytes] = field(default_factory=dict)
    error: str | None = None


@dataclass(slots=True)
class Identification:
    """What identify concluded about a grab result."""

    service: str | None = None
    product: str | None = None
    version: str | None = None
    cpe: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    info: str | None = None
    os: str | None = None
    devicetype: str | None = None
    source: str | None = None  # which rule source named it: "netatlas", "nmap", ...
    probe: str | None = None  # the nmap probe whose reply matched, when nmap had a say


@pickled_by_fields
@dataclass(slots=True)
class Finding:
    id: str
    severity: Literal["info", "low", "medium", "high", "critical"]
    title: str
    evidence: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "evidence": self.evidence,
        }


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_timestamp(ts: datetime) -> str:
    """Shodan's timestamp form: ISO 8601, microseconds, UTC, no offset suffix."""
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def banner_text(data: bytes) -> str:
    """Render hostile banner bytes as text without losing any: valid UTF-8 stays,
    every other byte (and NUL) becomes a ``\\xNN`` escape."""
    text = data.decode("utf-8", errors="backslashreplace")
    return text.replace("\x00", "\\x00")


@pickled_by_fields
@dataclass(slots=True)
class Observation:
    """One service on one port at one time — the unit netatlas stores and searches."""

    ip: str
    port: int
    transport: Transport
    timestamp: datetime
    scan_id: str
    status: str = "success"
    service: str | None = None
    product: str | None = None
    version: str | None = None
    cpe: list[str] = field(default_factory=list)
    data: bytes = b""
    hostnames: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    info: str | None = None
    os: str | None = None
    devicetype: str | None = None
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    risks: list[Finding] = field(default_factory=list)
    vulns: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    # where and whose (enrich stage): Shodan's location {country_code, country_name,
    # city, region_code, latitude, longitude}, asn "AS123", org, isp
    location: dict[str, Any] | None = None
    asn: str | None = None
    org: str | None = None
    isp: str | None = None
    # where an imported record came from ("nmap", "masscan", "shodan", ...): None for
    # netatlas's own scans (README "Importing")
    source: str | None = None
    # a distributed scan's perspective (README "Scale-out"): the worker that saw it and
    # the source address it scanned from; None for a single-process scan
    worker: str | None = None
    vantage: str | None = None

    @classmethod
    def build(
        cls,
        endpoint: Endpoint,
        scan_id: str,
        grab: GrabResult,
        ident: Identification,
        hostnames: list[str] | None = None,
        timestamp: datetime | None = None,
    ) -> Observation:
        return cls(
            ip=endpoint.ip,
            port=endpoint.port,
            transport=endpoint.transport,
            timestamp=timestamp or utcnow(),
            scan_id=scan_id,
            status=grab.status,
            service=ident.service or grab.service,
            product=ident.product,
            version=ident.version,
            cpe=list(ident.cpe),
            data=grab.data,
            hostnames=list(hostnames or []),
            tags=sorted(set(ident.tags)),
            info=ident.info,
            os=ident.os,
            devicetype=ident.devicetype,
            sections=dict(grab.sections),
            error=grab.error,
        )

    def to_record(self) -> dict[str, Any]:
        """The published JSON record shape (README "Record format"). Keep it stable."""
        rec: dict[str, Any] = {
            "ip_str": self.ip,
            "port": self.port,
            "transport": self.transport,
            "timestamp": format_timestamp(self.timestamp),
            "scan_id": self.scan_id,
            "status": self.status,
            "service": self.service,
            "product": self.product,
            "version": self.version,
            "cpe": list(self.cpe),
            "cpe23": [cpe22_to_23(c) for c in self.cpe],
            "data": banner_text(self.data),
            "hostnames": list(self.hostnames),
            "tags": list(self.tags),
            "info": self.info,
            "os": self.os,
            "devicetype": self.devicetype,
            "risks": [f.to_dict() for f in self.risks],
            "vulns": dict(self.vulns),
        }
        if self.error:
            rec["error"] = self.error
        for key in ("location", "asn", "org", "isp", "source", "worker", "vantage"):
            if (value := getattr(self, key)) is not None:
                rec[key] = value
        for name, section in self.sections.items():
            rec[name] = section
        return rec

    @classmethod
    def from_record(cls, rec: dict[str, Any], data: bytes | None = None) -> Observation:
        """Rebuild from a stored record; ``data`` carries the exact banner bytes."""
        known = {
            "ip_str", "port", "transport", "timestamp", "scan_id", "status", "service",
            "product", "version", "cpe", "cpe23", "data", "hostnames", "tags", "info",
            "os", "devicetype", "risks", "vulns", "error", "location", "asn", "org", "isp",
            "source", "worker", "vantage",
        }
        ts = datetime.fromisoformat(rec["timestamp"]).replace(tzinfo=UTC)
        return cls(
            ip=rec["ip_str"],
            port=int(rec["port"]),
            transport=rec.get("transport", "tcp"),
            timestamp=ts,
            scan_id=rec.get("scan_id", ""),
            status=rec.get("status", "success"),
            service=rec.get("service"),
            product=rec.get("product"),
            version=rec.get("version"),
            cpe=list(rec.get("cpe") or []),
            data=data if data is not None else rec.get("data", "").encode(),
            hostnames=list(rec.get("hostnames") or []),
            tags=list(rec.get("tags") or []),
            info=rec.get("info"),
            os=rec.get("os"),
            devicetype=rec.get("devicetype"),
            sections={k: v for k, v in rec.items() if k not in known and isinstance(v, dict)},
            risks=[Finding(**r) for r in rec.get("risks") or []],
            vulns=dict(rec.get("vulns") or {}),
            error=rec.get("error"),
            location=rec.get("location"),
            asn=rec.get("asn"),
            org=rec.get("org"),
            isp=rec.get("isp"),
            source=rec.get("source") if isinstance(rec.get("source"), str) else None,
            worker=rec.get("worker") if isinstance(rec.get("worker"), str) else None,
            vantage=rec.get("vantage") if isinstance(rec.get("vantage"), str) else None,
        )


def cpe22_to_23(cpe: str) -> str:
    """``cpe:/a:vendor:product:version`` -> ``cpe:2.3:a:vendor:product:version:*:...``."""
    if not cpe.startswith("cpe:/"):
        return cpe
    parts = cpe[5:].split(":")
    parts += ["*"] * (11 - len(parts))
    return "cpe:2.3:" + ":".join(p or "*" for p in parts[:11])


@dataclass(slots=True)
class Scan:
    """One scan run: its arguments (enough to rebuild the permutation) and progress."""

    id: str
    started: datetime
    args: dict[str, Any]
    status: Literal["running", "interrupted", "finished", "failed"] = "running"
    finished: datetime | None = None
    # Number of permutation positions fully done (a watermark: every position
    # below it has been probed). Resume continues from here.
    done: int = 0
    total: int = 0
    open_ports: int = 0
    observations: int = 0


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
