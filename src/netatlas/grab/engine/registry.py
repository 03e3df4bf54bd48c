"""What a protocol module declares about itself, and the registry that collects the
declarations (``grab/protocols/__init__.py`` lists the modules, in order).

The engine keeps no table keyed by protocol: detect (TCP), udp and discover derive
their port hints, probe orders, greeting tests and UDP payloads from the registry, so
adding a protocol touches its own module (its ``PROTOCOL``), its rules and its test.

Order matters and is the registry's: greeting tests run in it (a sure match first, then
one that goes by the port alone), the UDP probes are asked in it (the first positive
wins), the ``unhinted`` probes are tried in it on ports that hint at nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .conn import Conn
    from .context import GrabContext
    from .options import GrabOptions


class Greeting(IntEnum):
    """How surely a server's first bytes are this protocol's greeting."""

    NO = 0
    PORT = 1  # nothing in the bytes says so, but they came on one of its usual ports
    YES = 2


GreetingTest = Callable[[bytes, int], Greeting]  # (first bytes, port)
GreetingGrabber = Callable[["GrabContext", "Conn"], Awaitable[None]]
Probe = Callable[["GrabContext"], Awaitable[str]]  # -> an Outcome; grabs when positive
UdpProbe = Callable[[str, int, "GrabOptions", Any], Awaitable[str]]
# How detect tries a probe on a port whose hint names another protocol (or none):
#  "in-order"      in registry order, until our own probes have met two silences;
#  "frame-only"    it answers only a well-formed frame of its own: beside the first
#                  silence's nmap probes, and when everything met a hang-up;
#  "hang-up-only"  only when every probe was met by a hang-up and not one byte.
Unhinted = Literal["in-order", "frame-only", "hang-up-only"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Protocol:
    """One protocol as the engine sees it. Every field but ``name`` is optional."""

    name: str
    # TCP ports where it usually listens: a probe protocol's probe goes first there; a
    # greeting protocol's test sees the port (a bare greeting on telnet's port is telnet)
    ports: tuple[int, ...] = ()
    # server speaks first: is this its greeting? and the grabber that reads on from it
    greeting: GreetingTest | None = None
    grab: GreetingGrabber | None = None
    binary_greeting: bool = False  # a binary greeting: detect waits for no line end
    # client speaks first: one read-only request on a fresh connection (grabs if ours)
    probe: Probe | None = None
    unhinted: Unhinted | None = None
    tls_ports: tuple[int, ...] = ()  # inside TLS on these ports, its probe goes first
    # another probe's reply (a GET, a TLS hello) that gives it away
    in_replies: Callable[[bytes], bool] | None = None
    # its server also answers HTTP, and this reply to GET / says so: probe before HTTP
    behind_http: Callable[[bytes], bool] | None = None
    # how strongly replies to nmap's probes suggest it (0: not at all; highest first)
    nmap_replies: Callable[[list[bytes]], int] | None = None
    nmap_names: tuple[str, ...] = ()  # nmap's service names for it, besides its name
    nmap_probe: str | None = None  # the nmap probe its own probe stands for
    # UDP: its usual ports (asked first there), its probe, and what discovery sends
    udp_ports: tuple[int, ...] = ()
    udp_probe: UdpProbe | None = None
    udp_payloads: Callable[[int], tuple[bytes, ...]] | None = None  # (request id) -> ...
    udp_generic: Callable[[int], bytes] | None = None  # sent to ports nothing names

    def __post_init__(self) -> None:
        if (self.greeting is None) != (self.grab is None):
            raise ValueError(f"{self.name}: a greeting test and its grabber go together")
        if self.udp_ports and self.udp_probe is None:
            raise ValueError(f"{self.name}: UDP ports but no UDP probe")


class Registry:
    """The protocols, in order; ``version`` moves on every change (for derived tables)."""

    def __init__(self, protocols: Iterable[Protocol] = ()) -> None:
        self._protocols: list[Protocol] = []
        self.version = 0
        for p in protocols:
            self.register(p)

    def register(self, protocol: Protocol) -> None:
        if any(p.name == protocol.name for p in self._protocols):
            raise ValueError(f"protocol {protocol.name!r} is already registered")
        self._protocols.append(protocol)
        self.version += 1

    def unregister(self, name: str) -> None:
        self._protocols = [p for p in self._protocols if p.name != name]
        self.version += 1

    @contextmanager
    def registered(self, protocol: Protocol) -> Iterator[Protocol]:
        """Register for the duration of a ``with`` block (tests, plug-ins)."""
        self.register(protocol)
        try:
            yield protocol
        finally:
            self.unregister(protocol.name)

    def __iter__(self) -> Iterator[Protocol]:
        return iter(tuple(self._protocols))

    def __len__(self) -> int:
        return len(self._protocols)

    def __contains__(self, name: object) -> bool:
        return any(p.name == name for p in self._protocols)

    def __getitem__(self, name: str) -> Protocol:
        for p in self._protocols:
            if p.name == name:
                return p
        raise KeyError(name)

    def names(self) -> list[str]:
        return [p.name for p in self._protocols]
