"""Protocol hygiene: user enumeration, weak session security, management and cluster
interfaces reachable from the network."""

from __future__ import annotations

from ...model import Observation
from ._base import Check, http_section, quote, sec

# RFC 5321: 250/251 confirm an address; 252 ("cannot verify, will try") confirms nothing.
_CONFIRMS = (250, 251)


def smtp_user_enum(obs: Observation) -> str | None:
    smtp = sec(obs, "smtp")
    for verb in ("vrfy", "expn"):
        reply = smtp.get(verb)
        if isinstance(reply, dict) and reply.get("code") in _CONFIRMS:
            return f"{verb.upper()} postmaster answered {reply['code']} {quote(reply.get('text'))}"
    return None


def monitoring_exposed(obs: Observation) -> str | None:
    """Prometheus' query API answering without auth: every scrape target, label and
    metric of the monitored estate is readable (and PromQL can be run) by anyone."""
    api = http_section(obs).get("api")
    doc = api.get("buildinfo") if isinstance(api, dict) else None
    if isinstance(doc, str) and doc.startswith('{"status":"success"'):
        return f"/api/v1/status/buildinfo answered without auth: {quote(doc, 60)}"
    return None


def smb_null_session(obs: Observation) -> str | None:
    """One anonymous NTLM logon (null user, empty password) was granted a session."""
    smb = sec(obs, "smb")
    session = smb.get("session")
    if smb.get("null_session") is True and isinstance(session, dict):
        flags = session.get("flags") or []
        return (f"anonymous SESSION_SETUP answered {quote(session.get('status'))}"
                f" (session flags {quote(','.join(map(str, flags)) or 'none')})")
    return None


def smb_signing_not_required(obs: Observation) -> str | None:
    smb = sec(obs, "smb")
    if smb.get("signing_required") is False:
        return (f"{smb.get('protocol', 'SMB')} dialect {quote(smb.get('dialect'))}: signing "
                f"{'enabled' if smb.get('signing_enabled') else 'disabled'}, not required")
    return None


def smb1_enabled(obs: Observation) -> str | None:
    smb = sec(obs, "smb")
    if smb.get("smb1") is True:
        return f"SMB1 NEGOTIATE accepted (dialect {quote(smb.get('smb1_dialect', '?'))})"
    return None


def rdp_no_nla(obs: Observation) -> str | None:
    rdp = sec(obs, "rdp")
    if rdp.get("standard_rdp") is True:
        return (f"standard RDP security accepted (selected {quote(rdp.get('selected'))}"
                f" when offered {quote('|'.join(map(str, rdp.get('requested') or [])))})")
    if rdp.get("nla_required") is False:
        return (f"NLA not required: selected {quote(rdp.get('selected'))} when offered "
                f"{quote('|'.join(map(str, rdp.get('requested') or [])))}")
    return None


CHECKS: tuple[Check, ...] = (
    Check("smtp-user-enum", "medium", "SMTP confirms addresses (VRFY/EXPN user enumeration)",
          smtp_user_enum),
    Check("monitoring-exposed", "medium", "Monitoring API readable without authentication",
          monitoring_exposed),
    # medium, as scanners rate it: what the session reaches (IPC$, shares) is not tried
    Check("smb-null-session", "medium", "SMB grants an anonymous (null) session",
          smb_null_session),
    Check("smb-signing-not-required", "low", "SMB message signing not required",
          smb_signing_not_required),
    Check("smb1-enabled", "medium", "SMB1 still accepted", smb1_enabled),
    Check("rdp-no-nla", "medium", "RDP without Network Level Authentication", rdp_no_nla),
)
