"""Anonymous access and logins offered over cleartext."""

from __future__ import annotations

import re
from typing import Any

from ...model import Observation
from ._base import Check, as_text, quote, sec


def mqtt_anonymous(obs: Observation) -> str | None:
    if sec(obs, "mqtt").get("anonymous") is True:
        return "CONNECT without credentials accepted (CONNACK 0)"
    return None


def ftp_anonymous(obs: Observation) -> str | None:
    if sec(obs, "ftp").get("anonymous") is True:
        return "USER anonymous / PASS accepted (230)"
    return None


def _tls_features(features: list[Any]) -> bool:
    return any(as_text(f).upper().startswith(("AUTH TLS", "AUTH SSL")) for f in features)


_CLEARTEXT_GREETING = {
    "telnet": None,
    "pop3": re.compile(r"^\+OK"),
    "imap": re.compile(r"^\* (OK|PREAUTH)"),
}


def cleartext_login(obs: Observation) -> str | None:
    if "ssl" in obs.sections or obs.status != "success":
        return None
    ftp = sec(obs, "ftp")
    if ftp.get("code") == 220:
        if _tls_features(ftp.get("features") or []):
            return None
        return f"FTP login over cleartext, FEAT has no AUTH TLS (banner {quote(ftp.get('banner'))})"
    smtp = sec(obs, "smtp")
    if smtp.get("ehlo") and smtp.get("starttls") is False:
        auth = [a for a in smtp["ehlo"] if as_text(a).upper().startswith("AUTH")]
        extra = f", advertises {quote(auth[0])}" if auth else ""
        return f"SMTP EHLO without STARTTLS{extra}"
    service = obs.service or ""
    if service in _CLEARTEXT_GREETING and obs.data:
        greeting = obs.data[:300].decode("utf-8", errors="replace")
        pattern = _CLEARTEXT_GREETING[service]
        if pattern is not None and not pattern.match(greeting):
            return None
        if re.search(r"\b(STARTTLS|STLS)\b", greeting, re.I):
            return None
        return f"{service} greeting over cleartext: {quote(greeting, 60)}"
    return None


def open_proxy(obs: Observation) -> str | None:
    proxy = sec(obs, "http").get("proxy")
    if isinstance(proxy, dict) and proxy.get("forwarded") is True:
        return (f"fetched the canary {quote(proxy.get('canary'))} for us: same status "
                f"{proxy.get('status')} and body as a direct fetch")
    return None


def snmp_public(obs: Observation) -> str | None:
    if sec(obs, "snmp").get("community_public") is True:
        descr = sec(obs, "snmp").get("sys_descr")
        return "GET with community 'public' answered" + (f" (sysDescr {quote(descr)})"
                                                        if descr else "")
    return None


CHECKS: tuple[Check, ...] = (
    Check("open-proxy", "high", "Open proxy: forwards requests for anyone", open_proxy),
    Check("ftp-anonymous", "medium", "FTP allows anonymous login", ftp_anonymous),
    Check("mqtt-anonymous", "medium", "MQTT broker accepts anonymous clients", mqtt_anonymous),
    Check("cleartext-login", "low", "Login offered over cleartext", cleartext_login),
    Check("snmp-public", "high", "SNMP answers community 'public'", snmp_public),
)
