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


_PLAIN_MECHS = {"PLAIN", "LOGIN"}


def _upper(items: Any) -> list[str]:
    return [as_text(i).upper() for i in items] if isinstance(items, list) else []


def _ftp_cleartext(ftp: dict[str, Any]) -> str | None:
    if not _tls_features(ftp.get("features") or []):
        return f"FTP login over cleartext, FEAT has no AUTH TLS (banner {quote(ftp.get('banner'))})"
    if ftp.get("user_code") in (230, 331):  # STARTTLS offered is not STARTTLS required
        return (f"FTP offers AUTH TLS but takes USER over cleartext "
                f"(reply {ftp['user_code']} before any AUTH TLS)")
    return None


def _smtp_cleartext(smtp: dict[str, Any]) -> str | None:
    auth = [a for a in _upper(smtp.get("ehlo")) if a.startswith("AUTH")]
    if smtp.get("starttls") is False:
        extra = f", advertises {quote(auth[0])}" if auth else ""
        return f"SMTP EHLO without STARTTLS{extra}"
    plain = [a for a in auth if _PLAIN_MECHS & set(a.replace("=", " ").split()[1:])]
    if plain:
        return f"SMTP advertises {quote(plain[0])} before STARTTLS (offered, not required)"
    return None


def _imap_cleartext(imap: dict[str, Any]) -> str | None:
    """IMAP's LOGIN works unless the server says LOGINDISABLED (RFC 3501 6.2.3)."""
    caps = _upper(imap.get("capabilities"))
    if imap.get("status") != "OK" or not caps or "LOGINDISABLED" in caps:
        return None
    tls = "STARTTLS offered, not required" if "STARTTLS" in caps else "no STARTTLS"
    plain = [c for c in caps if c in ("AUTH=PLAIN", "AUTH=LOGIN")]
    return (f"IMAP accepts LOGIN before TLS ({tls}, no LOGINDISABLED"
            + (f", {quote(' '.join(plain))}" if plain else "") + ")")


def _pop3_cleartext(pop3: dict[str, Any]) -> str | None:
    """POP3 takes a password in the clear when CAPA offers USER or SASL PLAIN/LOGIN."""
    caps = _upper(pop3.get("capabilities"))
    words = {c.split(" ", 1)[0]: c.split()[1:] for c in caps}
    offered = (["USER"] if "USER" in words else []) + sorted(
        _PLAIN_MECHS & set(words.get("SASL", [])))
    if not caps or not offered:
        return None
    tls = "STLS offered, not required" if "STLS" in words else "no STLS"
    return f"POP3 offers {quote(' '.join(offered))} before TLS ({tls})"


def cleartext_login(obs: Observation) -> str | None:
    """A login the server takes over a cleartext connection: no TLS offered, or TLS
    offered (STARTTLS, STLS, AUTH TLS) but a plaintext login allowed before it."""
    if "ssl" in obs.sections or obs.status != "success":
        return None
    ftp = sec(obs, "ftp")
    if ftp.get("code") == 220:
        return _ftp_cleartext(ftp)
    smtp = sec(obs, "smtp")
    if smtp.get("ehlo"):
        return _smtp_cleartext(smtp)
    service = obs.service or ""
    # the capabilities asked before TLS decide; the greeting alone only when none came
    if service == "imap" and sec(obs, "imap").get("capabilities"):
        return _imap_cleartext(sec(obs, "imap"))
    if service == "pop3" and sec(obs, "pop3").get("capabilities"):
        return _pop3_cleartext(sec(obs, "pop3"))
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
