"""The lab's industrial servers, run in the foreground by the lab (lab/ics.py):

    python -m netatlas.lab.icsd modbus 127.20.0.55:502 127.20.0.56:5020
    python -m netatlas.lab.icsd s7 127.20.0.58:102
    python -m netatlas.lab.icsd bacnet 127.20.0.57:47808     (UDP)

Each is the real server implementation of a PyPI package (pymodbus, python-snap7, bacpypes3) bound
to the given loopback addresses only. The Modbus device identification names pymodbus
and its installed version, read from the package metadata (never a literal)."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from importlib import metadata


def _endpoints(args: list[str]) -> list[tuple[str, int]]:
    out = []
    for a in args:
        ip, _, port = a.rpartition(":")
        out.append((ip, int(port)))
    return out


async def _modbus(endpoints: list[tuple[str, int]]) -> None:
    from pymodbus.pdu.device import ModbusDeviceIdentification
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    identity = ModbusDeviceIdentification(info_name={
        "VendorName": "Pymodbus",
        "ProductCode": "PM",
        "MajorMinorRevision": metadata.version("pymodbus"),
        "ProductName": "Pymodbus Server",
        "ModelName": "Pymodbus Server",
    })
    # id 0: the device answers every unit id, as a plain Modbus/TCP server does.
    device = SimDevice(0, simdata=[SimData(0, count=16, datatype=DataType.REGISTERS)],
                       identity=identity)
    servers = [ModbusTcpServer(device, identity=identity, address=ep) for ep in endpoints]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(s.serve_forever()) for s in servers]
    await stop.wait()
    for s in servers:
        await s.shutdown()
    await asyncio.gather(*tasks, return_exceptions=True)


def _s7(endpoints: list[tuple[str, int]]) -> None:
    from snap7.server import Server
    from snap7.type import SrvArea

    (ip, port), = endpoints
    server = Server(log=False)
    server.register_area(SrvArea.DB, 1, bytearray(64))
    server.start_to(ip, port)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    server.stop()


async def _bacnet(endpoints: list[tuple[str, int]]) -> None:
    from bacpypes3.app import Application
    from bacpypes3.argparse import SimpleArgumentParser

    (ip, port), = endpoints
    # /32: the address is its own broadcast address, so bacpypes3 binds no second
    # (broadcast) socket outside the lab's own address.
    args = SimpleArgumentParser().parse_args([
        "--address", f"{ip}/32:{port}", "--instance", "599", "--name", "netatlas-lab"])
    app = Application.from_args(args)
    device = app.device_object
    device.modelName = "BACpypes3 device"
    device.firmwareRevision = metadata.version("bacpypes3")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    app.close()


def main(argv: list[str]) -> int:
    kind, endpoints = argv[0], _endpoints(argv[1:])
    if kind == "modbus":
        asyncio.run(_modbus(endpoints))
    elif kind == "s7":
        _s7(endpoints)
    elif kind == "bacnet":
        asyncio.run(_bacnet(endpoints))
    else:
        print(f"unknown server kind {kind!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
