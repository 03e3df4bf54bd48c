import dataclasses

import netatlas.grab as grab
from netatlas.grab import GrabOptions


def test_public_names_are_pinned() -> None:
    assert grab.__all__ == ["GrabOptions", "grab_endpoint"]


def test_option_defaults() -> None:
    o = GrabOptions()
    assert (o.connect_timeout, o.read_timeout, o.banner_wait, o.total_timeout) == (
        3.0,
        3.0,
        1.5,
        15.0,
    )
    assert o.max_bytes == 64 * 1024 and o.max_body == 256 * 1024
    assert o.user_agent == "netatlas/0.1 (+self-hosted survey)"
    assert o.host_header is None
    assert o.in_scope("198.51.100.1") is False  # nothing else is in scope by default
    assert {f.name for f in dataclasses.fields(GrabOptions)} >= {"in_scope", "host_header"}
