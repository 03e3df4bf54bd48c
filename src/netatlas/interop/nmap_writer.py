"""``export --format nmap``: nmap XML (``-oX``) valid against nmap's ``nmap.dtd``, one
``<host>`` per address with its open ports, so ``ndiff`` and every nmap-XML consumer
read netatlas's map. Records are grouped by address in bounded memory (``grouping``).

Every value is hostile text: attribute values are escaped, and characters XML 1.0
cannot hold (control characters, lone surrogates) are dropped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from ._common import mapping
from .grouping import by_address

NMAP_VERSION = "7.93"  # the XML output version we write is 1.05, as nmap 7.93's
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MAX_ATTR = 4096


def _a(value: Any, cap: int = MAX_ATTR) -> str:
    return quoteattr(_NOT_XML.sub("", str(value))[:cap])


def _t(value: Any, cap: int = MAX_ATTR) -> str:
    return escape(_NOT_XML.sub("", str(value))[:cap])


def _unix(ts: str) -> int:
    try:
        return int(datetime.fromisoformat(ts).replace(tzinfo=UTC).timestamp())
    except (TypeError, ValueError):
        return 0


def _service(rec: dict[str, Any]) -> str:
    attrs = [f"name={_a(rec.get('service') or 'unknown', 64)}"]
    for key, attr in (("product", "product"), ("version", "version"), ("info", "extrainfo"),
                      ("os", "ostype"), ("devicetype", "devicetype")):
        if rec.get(key):
            attrs.append(f"{attr}={_a(rec[key])}")
    if isinstance(rec.get("ssl"), dict):
        attrs.append('tunnel="ssl"')
    named = bool(rec.get("product"))
    attrs.append('method="probed" conf="10"' if named else 'method="table" conf="3"')
    cpes = "".join(f"<cpe>{_t(c, 512)}</cpe>" for c in rec.get("cpe") or [] if c)
    return f"<service {' '.join(attrs)}>{cpes}</service>"


def _script(rec: dict[str, Any]) -> str:
    """One script element at most: Debian's ndiff (7.93) fails sorting two on a port."""
    http = mapping(rec.get("http"))
    if rec.get("data"):
        return f'<script id="banner" output={_a(rec["data"], 2048)}/>'
    if http.get("title"):
        return (f'<script id="http-title" output={_a(http["title"], 512)}>'
                f'<elem key="title">{_t(http["title"], 512)}</elem></script>')
    return ""


def _port(rec: dict[str, Any]) -> str:
    return (f'<port protocol={_a(rec.get("transport") or "tcp")} portid="{int(rec["port"])}">'
            '<state state="open" reason="syn-ack" reason_ttl="0"/>'
            f'{_service(rec)}{_script(rec)}</port>\n')


def write(records: Iterable[dict[str, Any]], out: IO[str], args: str = "netatlas export"
          ) -> int:
    """Write the records as one nmap run; returns the number of ports written."""
    now = int(time.time())
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n')
    out.write(f'<nmaprun scanner="nmap" args={_a(args)} start="{now}"'
              f' startstr={_a(time.ctime(now))} version="{NMAP_VERSION}"'
              ' xmloutputversion="1.05">\n')
    # ndiff and other readers want a scaninfo; the ports themselves are listed per host
    out.write('<scaninfo type="connect" protocol="tcp" numservices="0" services=""/>\n'
              '<verbose level="0"/>\n<debugging level="0"/>\n')
    hosts = ports = 0
    for ip, recs in by_address(records):
        hosts += 1
        times = [_unix(r.get("timestamp", "")) for r in recs]
        addrtype = "ipv6" if ":" in ip else "ipv4"
        out.write(f'<host starttime="{min(times)}" endtime="{max(times)}">'
                  '<status state="up" reason="user-set" reason_ttl="0"/>'
                  f'<address addr={_a(ip)} addrtype="{addrtype}"/>\n')
        names = sorted({h for r in recs for h in r.get("hostnames") or [] if h})
        out.write("<hostnames>" + "".join(f'<hostname name={_a(n, 255)} type="user"/>'
                                          for n in names) + "</hostnames>\n<ports>")
        seen: set[tuple[str, int]] = set()
        for rec in recs:
            key = (str(rec.get("transport") or "tcp"), int(rec["port"]))
            if key in seen:
                continue
            seen.add(key)
            out.write(_port(rec))
            ports += 1
        out.write("</ports>\n</host>\n")
    out.write(f'<runstats><finished time="{now}" timestr={_a(time.ctime(now))} elapsed="0"'
              f' summary={_a(f"netatlas export: {hosts} hosts, {ports} open ports")}'
              f' exit="success"/><hosts up="{hosts}" down="0" total="{hosts}"/></runstats>\n'
              "</nmaprun>\n")
    return ports
