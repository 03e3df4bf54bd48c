"""The catalogue: loopback only, one address per service, never port 2024."""

from __future__ import annotations

import ipaddress

import pytest

import netatlas.lab as lab_pkg
from netatlas.lab import CATALOGUE, FORBIDDEN_PORT, LabError
from netatlas.lab.daemons import DAEMON_BY_NAME, DAEMONS
from netatlas.lab.services import catalogue


def test_public_names_pinned() -> None:
    assert sorted(lab_pkg.__all__) == [
        "CATALOGUE", "DEFAULT_STATE_DIR", "FORBIDDEN_PORT", "LAB_NET", "Lab", "LabError",
        "LabService", "default_state_dir",
    ]


def test_every_endpoint_is_lab_loopback_and_not_2024() -> None:
    lab_net = ipaddress.ip_network("127.20.0.0/24")
    for spec in CATALOGUE:
        assert ipaddress.ip_address(spec.ip) in lab_net, spec
        assert spec.port != FORBIDDEN_PORT == 2024
        assert spec.transport in ("tcp", "udp")


def test_minimum_catalogue() -> None:
    endpoints = {(s.ip, s.port): (s.service, s.product, s.tls) for s in CATALOGUE}
    assert endpoints[("127.20.0.2", 80)] == ("http", "nginx", False)
    assert endpoints[("127.20.0.2", 443)] == ("http", "nginx", True)
    assert endpoints[("127.20.0.12", 8081)] == ("http", "nginx", False)
    assert endpoints[("127.20.0.3", 22)][:2] == ("ssh", "OpenSSH")
    assert endpoints[("127.20.0.13", 2222)][:2] == ("ssh", "OpenSSH")
    assert endpoints[("127.20.0.4", 6379)][:2] == ("redis", "Redis")
    assert endpoints[("127.20.0.14", 7000)][:2] == ("redis", "Redis")
    assert endpoints[("127.20.0.5", 21)][:2] == ("ftp", "vsftpd")
    assert endpoints[("127.20.0.6", 5432)][:2] == ("postgresql", "PostgreSQL")
    assert endpoints[("127.20.0.7", 11211)][:2] == ("memcached", "memcached")
    assert endpoints[("127.20.0.8", 25)][:2] == ("smtp", "Exim")


def test_grown_catalogue_core_and_bench_services() -> None:
    """At least 25 services; the original eleven are core (asserted end to end), the
    rest are measured by bench/identify.py; several sit where the port misleads."""
    assert len(CATALOGUE) >= 25
    core = {s.name for s in CATALOGUE if s.core}
    assert core == {"nginx-http", "nginx-https", "nginx-alt", "ssh", "ssh-alt", "redis",
                    "redis-auth", "ftp", "postgresql", "memcached", "smtp"}
    assert len({s.product.lower() for s in CATALOGUE}) >= 15
    wellknown = {"ssh": 22, "redis": 6379, "memcached": 11211}
    misleading = [s for s in CATALOGUE if s.service in wellknown
                  and s.port != wellknown[s.service]]
    assert len(misleading) >= 4
    assert all(s.port not in (22, 6379) for s in CATALOGUE if s.name.endswith("-odd"))


def test_each_daemon_has_its_own_addresses() -> None:
    owner: dict[str, str] = {}
    for spec in CATALOGUE:
        assert owner.setdefault(spec.ip, spec.daemon) == spec.daemon, spec
        assert spec.daemon in DAEMON_BY_NAME
    assert all(d.specs(CATALOGUE) for d in DAEMONS)


def test_catalogue_moves_to_another_net() -> None:
    moved = catalogue("127.20.9.0/24")
    assert [s.ip.rsplit(".", 1)[1] for s in moved] == [s.ip.rsplit(".", 1)[1] for s in CATALOGUE]
    assert all(s.ip.startswith("127.20.9.") for s in moved)
    assert [s.port for s in moved] == [s.port for s in CATALOGUE]


@pytest.mark.parametrize("net", ["10.0.0.0/24", "127.20.0.0/16", "0.0.0.0/24", "::1/128"])
def test_catalogue_refuses_non_loopback_or_wrong_size(net: str) -> None:
    with pytest.raises((LabError, ValueError)):
        catalogue(net)
