from __future__ import annotations

import pytest

from netatlas.query import ip_to_bin
from netatlas.query.ipbin import network_bounds


def test_ipv4_is_mapped() -> None:
    assert ip_to_bin("127.20.0.1") == bytes(10) + b"\xff\xff\x7f\x14\x00\x01"
    assert ip_to_bin("127.20.0.1") == ip_to_bin("::ffff:127.20.0.1")
    assert len(ip_to_bin("::1")) == 16
    assert ip_to_bin("::1") == bytes(15) + b"\x01"


def test_order_is_numeric() -> None:
    ips = ["127.20.0.2", "127.20.0.10", "127.20.1.1", "::1", "2001:db8::1"]
    assert sorted(ips, key=ip_to_bin) == ["::1", "127.20.0.2", "127.20.0.10", "127.20.1.1",
                                          "2001:db8::1"]


def test_network_bounds() -> None:
    lo, hi = network_bounds("127.20.0.77/24")
    assert (lo, hi) == (ip_to_bin("127.20.0.0"), ip_to_bin("127.20.0.255"))
    lo, hi = network_bounds("2001:db8::/32")
    assert hi == ip_to_bin("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")


@pytest.mark.parametrize("bad", ["", "300.1.1.1", "127.20.0.1/8", "localhost"])
def test_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        ip_to_bin(bad)
