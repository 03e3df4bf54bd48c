"""File and desktop sharing that answers anyone: rsync daemon modules, NFS exports named
by the mount daemon, the RPC programs a portmapper lists, an X server that accepts a
client without authorization, and a directory readable below its root DSE. Each from
what the server itself answered a normal, read-only client (``rsync host::``,
``showmount -e``, ``rpcinfo -p``, an X client's connection setup, ``ldapsearch -x``)."""

from __future__ import annotations

from typing import Any

from ...model import Observation
from ._base import Check, as_dict, quote, sec


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def rsync_anonymous_modules(obs: Observation) -> str | None:
    """The daemon listed its modules to an anonymous client; those that answered our
    module name with ``@RSYNCD: OK`` need no password at all."""
    r = sec(obs, "rsync")
    modules = _dicts(r.get("modules"))
    if not modules:
        return None
    names = quote(", ".join(str(m.get("name")) for m in modules[:6]), 60)
    open_ = [str(m.get("name")) for m in modules if m.get("auth_required") is False]
    text = f"module list readable without authentication: {len(modules)} module(s) ({names})"
    if open_:
        text += f"; no password asked for {quote(', '.join(open_[:5]), 50)} (@RSYNCD: OK)"
    return text


def x11_open(obs: Observation) -> str | None:
    """The connection-setup request with no authorization was answered Success: any
    client may read the screen and inject keystrokes."""
    x = sec(obs, "x11")
    if x.get("status") != "success":
        return None
    screens = _dicts(x.get("screens"))
    size = (f", screen {screens[0].get('width')}x{screens[0].get('height')}"
            if screens else "")
    return (f"X11 connection setup without authorization answered Success by "
            f"{quote(x.get('vendor', ''), 50)} release {x.get('release')}{size}")


def nfs_exports_open(obs: Observation) -> str | None:
    """mountd told an anonymous client its export list (``showmount -e``); an export
    with no client list, or ``*``, is open to every host."""
    p = sec(obs, "portmap")
    exports = _dicts(p.get("exports"))
    if not exports:
        return None
    everyone = [str(e.get("dir")) for e in exports if e.get("everyone") is True]
    shown = quote(", ".join(
        f"{e.get('dir')} ({' '.join(map(str, e.get('groups') or [])) or 'everyone'})"
        for e in exports[:4]), 90)
    text = f"mountd EXPORT listed {len(exports)} export(s): {shown}"
    if everyone:
        text += f"; open to every host: {quote(', '.join(everyone[:4]), 50)}"
    return text


def rpc_programs_listed(obs: Observation) -> str | None:
    """The portmapper's DUMP lists every RPC program and its port (``rpcinfo -p``): a
    map of what else to attack, given to anyone."""
    p = sec(obs, "portmap")
    programs = _dicts(p.get("programs"))
    if not programs:
        return None
    names = [str(n) for n in p.get("program_names") or []]
    return (f"PMAPPROC_DUMP listed {len(programs)} registration(s): "
            f"{quote(', '.join(names[:8]), 80)}")


def ldap_anonymous_read(obs: Observation) -> str | None:
    """An anonymous one-level search below the first naming context returned entries:
    the directory's content is readable without a bind, not only its root DSE."""
    read = as_dict(sec(obs, "ldap").get("anonymous_read"))
    entries = read.get("entries")
    if not isinstance(entries, int) or entries <= 0:
        return None
    dns = [str(d) for d in read.get("dns") or []]
    return (f"anonymous one-level search of {quote(read.get('base', ''), 60)} returned "
            f"{entries}{'+' if read.get('truncated') else ''} entr(y/ies)"
            + (f" ({quote('; '.join(dns[:3]), 80)})" if dns else ""))


CHECKS: tuple[Check, ...] = (
    Check("rsync-anonymous-modules", "medium",
          "rsync daemon lists its modules to anyone", rsync_anonymous_modules),
    Check("nfs-exports-open", "high", "NFS export list readable by anyone",
          nfs_exports_open),
    Check("rpc-programs-listed", "info", "Portmapper lists the RPC programs to anyone",
          rpc_programs_listed),
    Check("x11-open", "high", "X server accepts clients without authorization", x11_open),
    Check("ldap-anonymous-read", "medium",
          "LDAP directory entries readable without a bind", ldap_anonymous_read),
)
