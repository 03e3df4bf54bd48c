"""Which addresses a process listens on, read from /proc (Linux only).

The lab uses this to prove each daemon bound only its own 127.20.x.y address: a
misconfigured daemon listening on 0.0.0.0 or [::] is stopped, not tolerated.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"


@dataclass(frozen=True, slots=True)
class Bound:
    ip: str
    port: int
    transport: str  # "tcp" (listening) or "udp" (bound)


def process_tree(pid: int) -> set[int]:
    """``pid`` and all its descendants: some daemons (Kamailio, Samba) listen from a
    child process. Parents come from /proc/<pid>/stat (field 4, after the ``(comm)``)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone while we looked
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = {pid}, [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    return tree


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    for member in process_tree(pid):
        inodes |= _fd_sockets(member)
    return inodes


def _fd_sockets(pid: int) -> set[int]:
    inodes: set[int] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _decode(hex_addr: str) -> tuple[str, int]:
    """/proc/net/tcp address ``0100007F:0050`` -> ("127.0.0.1", 80): the address is in
    host (little-endian) order per 32-bit word, the port in network order."""
    addr, port = hex_addr.split(":")
    raw = bytes.fromhex(addr)
    swapped = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(swapped)), int(port, 16)


_TABLES = (("tcp", "tcp", _TCP_LISTEN), ("tcp6", "tcp", _TCP_LISTEN),
           ("udp", "udp", _UDP_UNCONNECTED), ("udp6", "udp", _UDP_UNCONNECTED))


def _sockets(transports: tuple[str, ...]) -> Iterator[tuple[str, list[str]]]:
    """(transport, columns) of every listening TCP / bound UDP row of /proc/net."""
    for table, transport, wanted in _TABLES:
        if transport not in transports:
            continue
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) >= 10 and cols[3] == wanted:
                yield transport, cols


def udp_bound(ip: str, port: int) -> bool:
    """Is any process's UDP socket bound to ``ip:port``? (UDP has no handshake to try.)"""
    return any(_decode(cols[1]) == (ip, port) for _, cols in _sockets(("udp",)))


def bound_sockets(pid: int) -> list[Bound]:
    """TCP sockets in LISTEN and bound UDP sockets held by ``pid`` or its descendants
    (IPv4 and IPv6)."""
    inodes = _socket_inodes(pid)
    if not inodes:
        return []
    return [Bound(*_decode(cols[1]), transport) for transport, cols in _sockets(("tcp", "udp"))
            if int(cols[9]) in inodes]
