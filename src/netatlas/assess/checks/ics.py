"""Industrial control protocols reachable from the network. Modbus, S7comm and BACnet have no
authentication of their own: whoever can identify the device can, as a rule, also read
and write its process values. Only what a read-only identification showed is used."""

from __future__ import annotations

from ...model import Observation
from ._base import Check, as_text, quote, sec

_MODBUS_IDS = ("vendor_name", "product_code", "product_name", "model_name", "revision")


def modbus_exposed(obs: Observation) -> str | None:
    m = sec(obs, "modbus")
    found = [f"{k} {quote(m[k], 40)}" for k in _MODBUS_IDS if as_text(m.get(k))]
    if found:
        return "Read Device Identification answered: " + ", ".join(found[:3])
    if isinstance(m.get("exception"), int) and as_text(m.get("exception_text")):
        return (f"Modbus exception {m['exception']} ({quote(m['exception_text'])}) to "
                f"Read Device Identification: the device speaks Modbus to the network")
    return None


def s7_exposed(obs: Observation) -> str | None:
    s = sec(obs, "s7")
    if s.get("s7comm") is not True:
        return None
    what = [f"{k} {quote(s[k], 40)}" for k in ("module_type", "order_code", "system_name")
            if as_text(s.get(k))]
    return ("S7 setup communication accepted without a password"
            + (": " + ", ".join(what[:2]) if what else ""))


def bacnet_exposed(obs: Observation) -> str | None:
    b = sec(obs, "bacnet")
    what = [f"{k} {quote(b[k], 40)}" for k in ("vendor_name", "model_name", "object_name")
            if as_text(b.get(k))]
    if what:
        return "ReadProperty of the device object answered: " + ", ".join(what[:2])
    return None


CHECKS: tuple[Check, ...] = (
    Check("ics-modbus-exposed", "high", "Modbus/TCP device reachable from the network",
          modbus_exposed),
    Check("ics-s7-exposed", "high", "Siemens S7 (S7comm) PLC reachable from the network",
          s7_exposed),
    Check("ics-bacnet-exposed", "high", "BACnet/IP building-automation device reachable from "
          "the network", bacnet_exposed),
)
