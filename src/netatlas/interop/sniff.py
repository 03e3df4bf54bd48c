"""Auto-detection: which producer wrote an input, from its first bytes, and why we think
so (the import command prints the reason)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ._common import InputError

FORMATS = ("nmap", "masscan", "zgrab2", "httpx", "shodan", "netatlas")
_MASSCAN_LIST = re.compile(rb"^(open|closed|banner) (tcp|udp|sctp) \d+ \S+ \d+")


@dataclass(frozen=True, slots=True)
class Detected:
    format: str  # one of FORMATS
    variant: str  # "xml", "json", "ndjson", "list", "jsonl"
    reason: str


def _first_json(head: bytes) -> dict[str, object] | None:
    """The first complete JSON object line of ``head`` (masscan's -oJ lines end in
    a comma), or None."""
    for raw in head.split(b"\n")[:-1] or [head]:
        line = raw.strip().rstrip(b",").strip()
        if line in (b"", b"[", b"]"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        return obj if isinstance(obj, dict) else None
    return None


def sniff(head: bytes) -> Detected:
    """Name the format of an input from its first bytes; ``InputError`` when unknown."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        if b"<nmaprun" not in text[:8192]:
            raise InputError("XML, but no <nmaprun> root: not nmap or masscan XML")
        root = text[text.find(b"<nmaprun"):][:2048]
        if b'scanner="masscan"' in root:
            return Detected("masscan", "xml", "XML with <nmaprun scanner=\"masscan\">")
        return Detected("nmap", "xml", "XML with an <nmaprun> root")
    if text.startswith(b"#masscan") or _MASSCAN_LIST.match(text):
        return Detected("masscan", "list", "masscan -oL lines (open/banner PROTO PORT IP TIME)")
    obj = _first_json(text)
    if obj is None:
        raise InputError("not a format netatlas imports (nmap/masscan XML, masscan -oL, or"
                         " JSON lines from masscan, zgrab2, httpx, Shodan or netatlas)")
    keys = set(obj)
    if "rec_type" in keys and "ip" in keys:
        return Detected("masscan", "ndjson", "JSON lines with rec_type and ip (masscan -oD)")
    if "ports" in keys and "ip" in keys and isinstance(obj.get("ports"), list):
        return Detected("masscan", "json", "JSON objects with ip and ports[] (masscan -oJ)")
    if "_shodan" in keys or ("ip_str" in keys and "hash" in keys and "scan_id" not in keys):
        return Detected("shodan", "jsonl", "JSON lines with _shodan / ip_str (Shodan banners)")
    if "ip_str" in keys and "scan_id" in keys:
        return Detected("netatlas", "jsonl", "JSON lines with ip_str and scan_id (netatlas)")
    if isinstance(obj.get("data"), dict) and ("ip" in keys or "domain" in keys):
        return Detected("zgrab2", "jsonl", "JSON lines with ip and data{module: ...} (ZGrab2)")
    if "url" in keys and ("status_code" in keys or "status-code" in keys or "input" in keys):
        return Detected("httpx", "jsonl", "JSON lines with url and status_code (httpx)")
    raise InputError(f"JSON lines, but from no producer netatlas knows (keys:"
                     f" {', '.join(sorted(keys)[:12])})")
