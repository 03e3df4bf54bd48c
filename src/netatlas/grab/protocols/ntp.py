"""NTP grabber (UDP): one mode-3 client request, then one mode-6 READVAR (read-only).

Mode 3 is what any client sends: the reply gives version, stratum, reference ID,
precision and reference time. Mode 6 READVAR of the system association asks ntpd /
ntpsec for its variables, whose ``version=`` string names the daemon and release
(chrony and most appliances do not answer mode 6). No mode 7 (monlist): that is an
amplification vector, not an identification request. Parsers are sans-IO.
"""

from __future__ import annotations

import os
import re
import struct
import time
from datetime import UTC, datetime
from typing import Any

from ..engine.context import Outcome
from ..engine.dgram import Datagram
from ..engine.errors import ProtocolError
from ..engine.options import GrabOptions
from ..engine.registry import Protocol

NTP_EPOCH = 2208988800  # seconds from 1900-01-01 to 1970-01-01
MAX_MSG = 2048
MAX_FRAGMENTS = 16
MAX_VARS_BYTES = 8192
MAX_VARS = 48
# mode-6 system variables worth keeping (the rest is timing noise)
KEEP_VARS = ("version", "system", "processor", "leap", "stratum", "refid", "tai",
             "peer", "precision", "rootdelay", "rootdisp", "reftime", "clock",
             "leapsec", "expire", "ntpsec_version")


def client_request(nonce: bytes) -> bytes:
    """Mode 3, version 4, leap "unsynchronised"; ``nonce`` (8 bytes) as the transmit
    time, which a server echoes as the origin time of its reply."""
    return bytes([0xE3, 0, 6, 0xEC]) + bytes(36) + nonce


def _ntp_time(raw: bytes) -> str | None:
    secs, frac = struct.unpack(">II", raw)
    if secs == 0 and frac == 0:
        return None
    unix = secs - NTP_EPOCH + frac / 2**32
    if secs < NTP_EPOCH:  # era 1 (after 2036) wraps around
        unix += 2**32
    try:
        return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return None


def _short(raw: bytes) -> float:
    hi, lo = struct.unpack(">HH", raw)
    return round(hi + lo / 65536, 6)


def parse_reply(msg: bytes, nonce: bytes | None = None) -> dict[str, Any]:
    if len(msg) < 48:
        raise ProtocolError("NTP reply shorter than 48 bytes")
    li, vn, mode = msg[0] >> 6, (msg[0] >> 3) & 7, msg[0] & 7
    if mode not in (4, 5) or not 1 <= vn <= 4:
        raise ProtocolError(f"not an NTP server reply (mode {mode}, version {vn})")
    if nonce is not None and msg[24:32] != nonce:
        raise ProtocolError("NTP origin time does not echo our request")
    stratum = msg[1]
    refid_raw = msg[12:16]
    if stratum <= 1:
        refid = refid_raw.rstrip(b"\0").decode("ascii", "replace")
        refid = "".join(c if c.isprintable() else "?" for c in refid)
    else:
        refid = ".".join(str(b) for b in refid_raw)
    out: dict[str, Any] = {
        "version": vn,
        "mode": mode,
        "leap": li,
        "stratum": stratum,
        "poll": msg[2],
        "precision": struct.unpack(">b", msg[3:4])[0],
        "root_delay": _short(msg[4:8]),
        "root_dispersion": _short(msg[8:12]),
        "refid": refid,
    }
    if (ref := _ntp_time(msg[16:24])) is not None:
        out["reference_time"] = ref
    if (tx := _ntp_time(msg[40:48])) is not None:
        out["transmit_time"] = tx
    return out


# -- mode 6 (control) ----------------------------------------------------------------------

def readvar_request(sequence: int) -> bytes:
    """Mode 6 (version 2), opcode 2 READVAR, association 0 = the system variables."""
    return struct.pack(">BBHHHHH", 0x16, 0x02, sequence, 0, 0, 0, 0)


def parse_control(msg: bytes, sequence: int) -> tuple[int, bytes, bool]:
    """One mode-6 response fragment -> (offset, data, more fragments follow)."""
    if len(msg) < 12:
        raise ProtocolError("NTP control reply shorter than its header")
    b0, b1, seq, _status, _assoc, offset, count = struct.unpack(">BBHHHHH", msg[:12])
    if b0 & 7 != 6 or not b1 & 0x80 or b1 & 0x1F != 2:
        raise ProtocolError("not a mode-6 READVAR response")
    if seq != sequence:
        raise ProtocolError("mode-6 sequence does not match")
    if b1 & 0x40:
        raise ProtocolError("mode-6 error response")
    if 12 + count > len(msg) or offset + count > MAX_VARS_BYTES:
        raise ProtocolError("mode-6 fragment runs past the datagram or the cap")
    return offset, msg[12 : 12 + count], bool(b1 & 0x20)


_VAR = re.compile(r'\s*([\w.\-]+)=("(?:[^"]*)"|[^,]*)\s*(?:,|$)')


def parse_vars(text: str) -> dict[str, str]:
    """``version="ntpd ntpsec-1.2.2", stratum=2, ...`` -> {name: value}, capped."""
    out: dict[str, str] = {}
    for m in _VAR.finditer(text.replace("\r\n", " ").replace("\n", " ")):
        if len(out) >= MAX_VARS:
            break
        value = m.group(2).strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        out[m.group(1)] = value[:256]
    return out


def assemble(fragments: dict[int, bytes]) -> str:
    """Fragments by offset -> the variable text (gaps end it)."""
    data = b""
    for off in sorted(fragments):
        if off != len(data):
            break
        data += fragments[off]
    return data[:MAX_VARS_BYTES].decode("ascii", "replace")


def _contiguous(fragments: dict[int, bytes]) -> bool:
    end = 0
    for off in sorted(fragments):
        if off != end:
            return False
        end += len(fragments[off])
    return True


async def _readvar(d: Datagram, timeout: float) -> dict[str, str] | None:
    seq = int.from_bytes(os.urandom(2), "big") or 1
    d.sock.send(readvar_request(seq))
    fragments: dict[int, bytes] = {}
    complete = False
    for _ in range(MAX_FRAGMENTS):
        reply = await d.recv(MAX_MSG, timeout)
        if reply is None:
            break
        try:
            offset, data, more = parse_control(reply, seq)
        except ProtocolError:
            continue
        fragments[offset] = data
        if not more:
            complete = True
        if complete and _contiguous(fragments):
            break
    if not fragments:
        return None
    return parse_vars(assemble(fragments))


async def probe(ip: str, port: int, opts: GrabOptions, result: Any) -> str:
    now = time.time() + NTP_EPOCH
    nonce = struct.pack(">II", int(now) & 0xFFFFFFFF, int.from_bytes(os.urandom(4), "big"))

    def ours(reply: bytes) -> bool:
        try:
            parse_reply(reply, nonce)
        except ProtocolError:
            return False
        return True

    async with Datagram(ip, port) as d:
        reply = await d.request(client_request(nonce), opts.read_timeout, MAX_MSG, ours)
        if reply is None:
            return Outcome.SILENT
        section = parse_reply(reply, nonce)
        result.service = "ntp"
        result.responses["NTPRequest"] = reply  # raw, for nmap's matchers
        # most servers (chrony, appliances) never answer mode 6: wait less for it
        variables = await _readvar(d, min(opts.read_timeout, 1.5))
    if variables:
        section["variables"] = {k: v for k, v in variables.items() if k in KEEP_VARS}
        if "version" in variables:
            section["daemon_version"] = variables["version"]
    result.sections["ntp"] = section
    result.data = summary(section)
    return Outcome.POSITIVE


def summary(section: dict[str, Any]) -> bytes:
    """The readable banner kept as ``data``: the mode-3 facts, then mode-6 variables."""
    lines = [f"{k}: {section[k]}" for k in ("version", "stratum", "refid", "reference_time")
             if k in section]
    lines += [f"{k}: {v}" for k, v in section.get("variables", {}).items()]
    return "\n".join(lines).encode("utf-8", "replace")


def discovery_payload(rid: int) -> bytes:
    return client_request(os.urandom(8))


PROTOCOL = Protocol(name="ntp", udp_ports=(123,), udp_probe=probe,
                    udp_payloads=lambda rid: (discovery_payload(rid),),
                    udp_generic=discovery_payload)
