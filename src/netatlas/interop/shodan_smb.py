"""Shodan's ``smb`` banner property <-> netatlas's ``smb`` section.

Shodan's shape (the Datapedia's ``smb`` property as the Go client
github.com/shadowscatcher/shodan types it, models/services/smb.go): ``smb_version``
("highest SMB version that was negotiated", an integer), ``capabilities`` ("features
the service supports", strings), ``os``, ``software``, ``shares`` (``name``, ``type``,
``comments``, ``special``, ``temporary``, ``files``: ``name``, ``directory``,
``read-only``, ``size``), ``anonymous`` ("whether the service allows anonymous
connections") and ``raw`` (the replies, hex).

netatlas's section (grab/protocols/smb.py): ``protocol`` (SMB2 / SMB1), the negotiated
``dialect``, signing, ``capabilities`` (the NEGOTIATE reply's names), the NTLM
challenge's facts, and the verdict of one null-session logon (``session``,
``null_session``); it lists no share.

What lines up: ``smb_version`` <-> ``protocol`` (1 is SMB1; 2 and 3 are spoken in SMB2's
packets, MS-SMB2 covering dialects 2.0.2 to 3.1.1), ``capabilities`` (the same fact;
Shodan's spelling of each is not in the source: its strings are kept as they are), and
``os``, ``software``, ``shares`` (kept under Shodan's names and shape, capped: netatlas
has no key of its own for them). Signing and the dialect have no Shodan key: an export
writes them, and the rest of netatlas's section, beside Shodan's keys under netatlas's
names, and an import reads them back.

Not mapped: ``anonymous`` is not ``null_session``. Shodan's doc does not say what
connection it made (a null session, a guest logon, a share listing), while
smb-null-session reads the verdict of netatlas's own empty-user logon; an import keeps
Shodan's flag as ``anonymous`` and claims no ``null_session`` or ``session``. ``raw`` is
not imported (hex of replies whose order and commands the source does not give).
"""

from __future__ import annotations

import json
from typing import Any

from ._shodan_values import MAX_ITEMS, Check, count, flag, mapping, own, put, text, texts

Shape = dict[str, Any]
MAX_FILES = 64  # files kept a share


def _small(v: Any) -> Any:
    """A JSON value of a few kilobytes at most (NTLM's facts, the session's verdict)."""
    if v is None or isinstance(v, bool | int | float | str | list | dict):
        try:
            return v if len(json.dumps(v)) <= 4096 else None
        except (TypeError, ValueError):
            return None
    return None


# netatlas's own keys, written beside Shodan's and read back
OWN: dict[str, Check] = {
    **{k: text for k in ("dialect", "server_guid", "system_time", "server_start_time",
                         "encryption_cipher", "signing_algorithm", "preauth_hash",
                         "session_error", "smb1_dialect", "domain", "server")},
    **{k: count for k in ("dialect_code", "capabilities_raw", "max_transact_size",
                          "max_read_size", "max_write_size", "max_buffer_size")},
    **{k: flag for k in ("signing_enabled", "signing_required", "null_session", "smb1")},
    **{k: texts for k in ("security_mechanisms", "security_mode")},
    **{k: _small for k in ("ntlm", "session", "smb1_negotiate")},
}


def _file(v: Any) -> Shape | None:
    f = mapping(v)
    if not (name := text(f.get("name"))):
        return None
    out: Shape = {"name": name}
    for theirs, ours in (("directory", "directory"), ("read-only", "read_only")):
        if (b := flag(f.get(theirs))) is not None:
            out[ours] = b
    if (size := count(f.get("size"))) is not None:
        out["size"] = size
    return out


def _share(v: Any) -> Shape | None:
    s = mapping(v)
    if not (name := text(s.get("name"))):
        return None
    out: Shape = {"name": name}
    for key in ("type", "comments"):
        if (t := text(s.get(key))) is not None:
            out[key] = t
    for key in ("special", "temporary"):
        if (b := flag(s.get(key))) is not None:
            out[key] = b
    files = s.get("files")
    if isinstance(files, list):
        out["files"] = [f for f in map(_file, files[: MAX_FILES * 4]) if f][:MAX_FILES]
    return out


def _shares(v: Any) -> list[Shape] | None:
    if not isinstance(v, list):
        return None
    return [s for s in map(_share, v[: MAX_ITEMS * 4]) if s][:MAX_ITEMS]


def from_shodan(value: Shape, banner: Shape | None = None) -> Shape:
    out: Shape = {}
    version = count(value.get("smb_version"))
    if version == 1:
        out["protocol"] = "SMB1"
    elif version in (2, 3):
        out["protocol"] = "SMB2"
    if (caps := texts(value.get("capabilities"))) is not None:
        out["capabilities"] = caps
    for key in ("os", "software"):
        if (t := text(value.get(key))) is not None:
            out[key] = t
    if (shares := _shares(value.get("shares"))) is not None:
        out["shares"] = shares
    if (anonymous := flag(value.get("anonymous"))) is not None:
        out["anonymous"] = anonymous  # Shodan's word, not a null-session verdict
    out.update(own(value, OWN))
    return out


def _file_out(f: Shape) -> Shape:
    theirs = {"name": "name", "directory": "directory", "read_only": "read-only",
              "size": "size"}
    return {theirs[k]: v for k, v in f.items() if k in theirs}


def _renamed(shares: Any, ours: str, theirs: str) -> Any:
    """netatlas's shares with their files' keys in Shodan's spelling (read back by
    ``_shares`` as an import would)."""
    if not isinstance(shares, list):
        return shares
    return [{**s, "files": [{theirs if k == ours else k: v for k, v in mapping(f).items()}
                            for f in s["files"][: MAX_FILES * 4]]}
            if isinstance(s, dict) and isinstance(s.get("files"), list) else s
            for s in shares[: MAX_ITEMS * 4]]


def to_shodan(section: Shape) -> Shape:
    out: Shape = {}
    protocol = section.get("protocol")
    if protocol in ("SMB1", "SMB2"):
        out["smb_version"] = 1 if protocol == "SMB1" else 2
    if (caps := texts(section.get("capabilities"))) is not None:
        out["capabilities"] = caps
    for key in ("os", "software"):
        if (t := text(section.get(key))) is not None:
            out[key] = t
    if (shares := _shares(_renamed(section.get("shares"), "read_only", "read-only"))
            ) is not None:
        out["shares"] = [{**s, **({"files": [_file_out(f) for f in s["files"]]}
                                  if "files" in s else {})} for s in shares]
    if isinstance(section.get("anonymous"), bool):
        out["anonymous"] = section["anonymous"]
    put(out, section, OWN)
    return out
