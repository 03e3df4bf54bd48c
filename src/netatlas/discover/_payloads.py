"""What to send to a UDP port so that a live service answers (UDP has no handshake).

Own probes first (the same read-only requests the grabbers send): DNS CHAOS TXT
``version.bind``, SNMP v2c ``public`` GET sysDescr plus an SNMPv3 engine-discovery
request, NTP mode-3 client request, BACnet ReadProperty and Who-Is. Other ports use
nmap's UDP payloads, read in place from ``nmap-payloads`` when installed (never
copied), followed by a generic set (SNMPv3 discovery, NTP, DNS), so services on
unusual ports still answer: nmap sends an empty datagram where it has no payload,
which most services ignore.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from pathlib import Path

from netatlas.grab.protocols import registry

NMAP_PAYLOADS = Path("/usr/share/nmap/nmap-payloads")
MAX_PER_PORT = 4  # payloads sent per attempt, whatever a file says
MAX_PAYLOAD = 1400  # bytes: one datagram on any path
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ESCAPES = {"0": 0, "a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11,
            "\\": 92, '"': 34, "'": 39}


def unescape(text: str) -> bytes:
    """nmap's C-style string escapes (\\xHH, \\0, \\r, ...) -> bytes."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 == len(text):
            out += c.encode("latin-1", "replace")
            i += 1
            continue
        e = text[i + 1]
        if e == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[i + 2 : i + 4]):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            out.append(_ESCAPES.get(e, ord(e) & 0xFF))
            i += 2
    return bytes(out)


def _port_ranges(spec: str) -> list[tuple[int, int]]:
    ranges = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        if lo.isdigit() and (not hi or hi.isdigit()):
            ranges.append((int(lo), int(hi or lo)))
    return ranges


def parse_nmap_payloads(text: str) -> list[tuple[list[tuple[int, int]], bytes]]:
    """nmap-payloads -> [(port ranges, payload)] in file order. Entries that ask for a
    fixed source port are skipped (we never bind privileged source ports)."""
    entries: list[tuple[list[tuple[int, int]], bytearray, bool]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("udp ", "udp\t")):
            parts = line.split(None, 2)
            entries.append((_port_ranges(parts[1]) if len(parts) > 1 else [], bytearray(),
                            False))
            rest = parts[2] if len(parts) > 2 else ""
        elif line.startswith('"') and entries:
            rest = line
        else:
            if line.startswith("source") and entries:
                ports, data, _ = entries[-1]
                entries[-1] = (ports, data, True)
            continue  # an unknown keyword: ignored, as nmap does
        for m in _STRING.finditer(rest):
            entries[-1][1].extend(unescape(m.group(1)))
    return [(ports, bytes(data)) for ports, data, fixed_source in entries
            if ports and data and not fixed_source and len(data) <= MAX_PAYLOAD]


class Payloads:
    """Payloads by port; ``for_port`` is cached (a scan has few distinct ports)."""

    def __init__(self, nmap_file: Path | None = NMAP_PAYLOADS) -> None:
        self.nmap: list[tuple[list[tuple[int, int]], bytes]] = []
        if nmap_file is not None:
            with contextlib.suppress(OSError):
                self.nmap = parse_nmap_payloads(nmap_file.read_text("latin-1"))
        # the protocols' own requests (their declarations' UDP payloads), by their ports
        rid = int.from_bytes(os.urandom(3), "big") + 1
        self.own: dict[int, tuple[bytes, ...]] = {}
        generic: list[bytes] = []
        for proto in registry:
            if proto.udp_payloads is not None:
                payloads = proto.udp_payloads(rid)
                for port in proto.udp_ports:
                    self.own.setdefault(port, payloads)
            if proto.udp_generic is not None:
                generic.append(proto.udp_generic(rid))
        self.generic: tuple[bytes, ...] = tuple(generic)
        # index: narrow ranges by port, the few wide ones (32768-65535) scanned
        self._exact: dict[int, list[int]] = {}
        self._wide: list[tuple[int, int, int]] = []
        for i, (ranges, _) in enumerate(self.nmap):
            for lo, hi in ranges:
                if hi - lo < 256:
                    for port in range(lo, hi + 1):
                        self._exact.setdefault(port, []).append(i)
                else:
                    self._wide.append((lo, hi, i))
        self.for_port = functools.lru_cache(maxsize=65536)(self._for_port)

    def _for_port(self, port: int) -> tuple[bytes, ...]:
        if port in self.own:
            return self.own[port]
        hits = set(self._exact.get(port, ()))
        hits.update(i for lo, hi, i in self._wide if lo <= port <= hi)
        found = [self.nmap[i][1] for i in sorted(hits)]
        # nmap's ranges are wide (DCE/RPC claims 1025-1199): the generic set goes too
        return tuple(found[:MAX_PER_PORT]) + self.generic
