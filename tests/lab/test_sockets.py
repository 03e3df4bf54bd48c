from __future__ import annotations

import os
import socket

from netatlas.lab.sockets import Bound, _decode, bound_sockets


def test_decode_proc_net_addresses() -> None:
    assert _decode("0100007F:0050") == ("127.0.0.1", 80)
    assert _decode("00000000:1F90") == ("0.0.0.0", 8080)
    assert _decode("00000000000000000000000001000000:0016") == ("::1", 22)


def test_finds_our_own_listeners() -> None:
    tcp = socket.socket()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        tcp.bind(("127.20.0.201", 0))
        tcp.listen()
        udp.bind(("127.20.0.201", 0))
        found = bound_sockets(os.getpid())
        assert Bound("127.20.0.201", tcp.getsockname()[1], "tcp") in found
        assert Bound("127.20.0.201", udp.getsockname()[1], "udp") in found
    finally:
        tcp.close()
        udp.close()
    assert not [b for b in bound_sockets(os.getpid()) if b.ip == "127.20.0.201"]


def test_no_such_process() -> None:
    assert bound_sockets(2**22 + 17) == []


def test_udp_bound_sees_any_process_socket() -> None:
    from netatlas.lab.sockets import udp_bound

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.bind(("127.20.11.201", 0))
        port = udp.getsockname()[1]
        assert udp_bound("127.20.11.201", port)
        assert not udp_bound("127.20.11.202", port)
    finally:
        udp.close()
    assert not udp_bound("127.20.11.201", port)
