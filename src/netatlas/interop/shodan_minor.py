"""The small Shodan banner properties netatlas also writes — ``mqtt``, ``ftp``,
``rsync``, ``snmp`` — each a pair of short converters in one table (shodan_sections.py
registers them). Shodan's shapes as the Go client github.com/shadowscatcher/shodan types
the Datapedia's properties (models/services/mqtt.go, ftp.go, rsync.go, snmp.go); LeakLooker
(github.com/woj-ciech/LeakLooker) reads ``rsync.authentication`` and ``rsync.modules``
the same way. As for the larger ones, what netatlas knows and Shodan has no key for is
written beside Shodan's keys under netatlas's names, and read back: export then import
gives the same section.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from netatlas.grab.protocols.mqtt import RETURN_CODES, VERSION_TOPIC
from netatlas.grab.protocols.rsync import MAX_MODULES

from ._shodan_values import MAX_ITEMS, Check, count, flag, mapping, own, put, text, texts

Shape = dict[str, Any]

# -- mqtt -------------------------------------------------------------------------------
# Shodan: ``code`` (CONNACK's return code to its CONNECT, which carries no credentials:
# 0 lets it in) and ``messages`` (``topic``, ``payload``) it then read for 5 seconds.
# netatlas (grab/protocols/mqtt.py): the CONNACK's verdict and, when anonymous, the
# payload of $SYS/broker/version.
_TOPIC = VERSION_TOPIC.decode()
_MQTT_OWN: dict[str, Check] = {"protocol_level": count, "session_present": flag}


def mqtt_in(value: Shape, banner: Shape) -> Shape:
    out: Shape = {}
    code = count(value.get("code"))
    if code is not None and code < 256:
        out.update(return_code=code, return_text=RETURN_CODES.get(code, f"unknown ({code})"),
                   anonymous=code == 0)
    messages = value.get("messages")
    for m in messages[:MAX_ITEMS * 16] if isinstance(messages, list) else []:
        m = mapping(m)
        if m.get("topic") == _TOPIC and (payload := text(m.get("payload"))):
            out["broker_version"] = payload
            break
    out.update(own(value, _MQTT_OWN))
    return out


def mqtt_out(section: Shape) -> Shape:
    out: Shape = {}
    if (code := count(section.get("return_code"))) is not None:
        out["code"] = code
    version = text(section.get("broker_version"))
    out["messages"] = [{"topic": _TOPIC, "payload": version}] if version else []
    put(out, section, _MQTT_OWN)
    return out


# -- ftp --------------------------------------------------------------------------------
# Shodan: ``anonymous``, ``features`` (FEAT's lines as {name: {"parameters": [...]}}),
# ``features_hash`` (its own hash: not computed here). netatlas (grab/protocols/ftp.py):
# FEAT's lines as they were, the greeting's ``code`` and ``banner``, ``syst``,
# ``user_code``, ``anonymous``. Shodan's ``data`` starts with the greeting, so its code
# comes from there. Two FEAT lines of one name are one entry in Shodan's object: they
# come back as one line.
_FTP_OWN: dict[str, Check] = {"anonymous": flag, "banner": lambda v: text(v, 4096),
                              "code": count, "syst": text, "user_code": count}
_REPLY_CODE = re.compile(r"([1-5][0-9][0-9])[ -]")


def ftp_in(value: Shape, banner: Shape) -> Shape:
    out: Shape = {}
    features = value.get("features")
    if isinstance(features, dict):
        lines = []
        for name, feat in list(features.items())[:100]:
            params = texts(mapping(feat).get("parameters")) or []
            if isinstance(name, str) and name:
                lines.append(" ".join([name[:64], *params])[:256])
        out["features"] = lines
    data = banner.get("data")
    if isinstance(data, str) and (m := _REPLY_CODE.match(data)):
        out["code"] = int(m.group(1))
    out.update(own(value, _FTP_OWN))
    return out


def ftp_out(section: Shape) -> Shape:
    out: Shape = {}
    features: dict[str, dict[str, list[str]]] = {}
    for line in texts(section.get("features"), 100) or []:
        name, *params = line.split()
        features.setdefault(name, {"parameters": []})["parameters"] += params
    if isinstance(section.get("features"), list):
        out["features"] = features
    put(out, section, _FTP_OWN)
    return out


# -- rsync ------------------------------------------------------------------------------
# Shodan: ``authentication`` (whether the daemon asks for it) and ``modules``
# ({name: comment}). netatlas (grab/protocols/rsync.py): the greeting's protocol, the
# module list with each comment, and for the first modules what naming one answered
# (@RSYNCD: OK / AUTHREQD, or @ERROR): exported as ``module_replies``, by name.
_RSYNC_OWN: dict[str, Check] = {
    "protocol": count, "subprotocol": count, "version": text, "digests": texts,
    "listing_complete": flag, "motd": lambda v: text(v, 6000), "error": text}


def _reply(v: Any) -> Shape | None:
    r = mapping(v)
    got = {k: c(r[k]) for k, c in (("auth_required", flag), ("error", text)) if k in r}
    return {k: x for k, x in got.items() if x is not None} or None


def rsync_in(value: Shape, banner: Shape) -> Shape:
    out: Shape = {}
    if (auth := flag(value.get("authentication"))) is not None:
        out["auth_required"] = auth
    modules = value.get("modules")
    if isinstance(modules, dict):
        replies = mapping(value.get("module_replies"))
        kept = []
        for name, comment in list(modules.items())[:MAX_MODULES]:
            if isinstance(name, str) and name:
                entry = {"name": name[:255], "comment": (text(comment, 200) or "").strip()}
                kept.append({**entry, **(_reply(replies.get(name)) or {})})
        out["modules"] = kept
    out.update(own(value, _RSYNC_OWN))
    return out


def rsync_out(section: Shape) -> Shape:
    out: Shape = {}
    if isinstance(section.get("auth_required"), bool):
        out["authentication"] = section["auth_required"]
    modules = [m for m in section.get("modules") or [] if isinstance(m, dict)
               and isinstance(m.get("name"), str)]
    if isinstance(section.get("modules"), list):
        out["modules"] = {m["name"]: str(m.get("comment") or "") for m in modules}
        replies = {m["name"]: r for m in modules if (r := _reply(m))}
        if replies:
            out["module_replies"] = replies
    put(out, section, _RSYNC_OWN)
    return out


# -- snmp -------------------------------------------------------------------------------
# Shodan: the system group as strings — ``description``, ``contact``, ``location``,
# ``name``, ``uptime``, ``objectid``, ``services`` (and the ORTable's first row). netatlas
# (grab/protocols/snmp.py): the same group as ``sys_*``, with the SNMP versions and
# community that answered. Which community Shodan's crawler used is not said, so an
# import does not claim ``community_public`` (snmp-public needs the grabber's own word).
_SNMP = {"description": "sys_descr", "contact": "sys_contact", "location": "sys_location",
         "name": "sys_name", "uptime": "sys_uptime", "objectid": "sys_object_id"}


def _scalar_or_text(v: Any) -> Any:
    return v if isinstance(v, int) and not isinstance(v, bool) else text(v, 1024)


_SNMP_OWN: dict[str, Check] = {
    "sys_uptime": _scalar_or_text, "version_tag": text, "community": text,
    "versions": texts, "community_public": flag, "engine_id": text, "engine_vendor": text,
    "engine_enterprise": count, "engine_format": text, "engine_ipv4": text,
    "engine_mac": text, "engine_text": text, "engine_boots": count, "engine_time": count,
    "report_oid": text}


def snmp_in(value: Shape, banner: Shape) -> Shape:
    out: Shape = {ours: got for theirs, ours in _SNMP.items()
                  if (got := text(value.get(theirs), 1024))}
    out.update(own(value, _SNMP_OWN))
    return out


def snmp_out(section: Shape) -> Shape:
    out: Shape = {}
    for theirs, ours in _SNMP.items():
        v = section.get(ours)
        if isinstance(v, str | int) and not isinstance(v, bool):
            out[theirs] = str(v)  # Shodan's are strings; the type goes back as our own
    put(out, section, _SNMP_OWN)
    return out


TRANSLATORS: dict[str, tuple[Callable[[Shape, Shape], Shape], Callable[[Shape], Shape]]] = {
    "mqtt": (mqtt_in, mqtt_out),
    "ftp": (ftp_in, ftp_out),
    "rsync": (rsync_in, rsync_out),
    "snmp": (snmp_in, snmp_out),
}
