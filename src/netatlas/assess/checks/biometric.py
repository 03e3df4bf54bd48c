"""The infrastructure of face-swap attacks on face verification, reachable from the
network: face recognition and verification services (identify tags them ``biometric``)
and face-swap tools (``face-swap``). What a record shows is quoted: the product named,
and what answered a client without credentials, or that only the page was seen."""

from __future__ import annotations

from ...model import Observation
from ._base import Check, http_section, page_title, quote

BIOMETRIC_TAGS = ("biometric", "face-swap")


def biometric_exposure(obs: Observation) -> str | None:
    kinds = [t for t in BIOMETRIC_TAGS if t in obs.tags]
    if not kinds:
        return None
    h = http_section(obs)
    status = h.get("status")
    api = h.get("api") if isinstance(h.get("api"), dict) else {}
    named = quote(f"{obs.product} {obs.version}" if obs.version else (obs.product or "?"))
    what = "face-swap tool" if kinds == ["face-swap"] else "face recognition service"
    answered = [name for name in ("frigate_version", "reactor_models", "openapi")
                if api.get(name)]
    if answered:
        return (f"{what} {named}: http.api.{answered[0]} answered 200 without "
                f"credentials")
    if status == 200:
        title = page_title(obs)
        return (f"{what} {named} reachable: GET / status 200"
                + (f", title {quote(title)}" if title else "")
                + "; login not tested")
    return None


CHECKS: tuple[Check, ...] = (
    Check("biometric-exposure", "high",
          "Face recognition or face-swap service exposed (biometric data, spoofing)",
          biometric_exposure),
)
