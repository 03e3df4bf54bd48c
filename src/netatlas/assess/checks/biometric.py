"""The infrastructure of face-swap attacks on face verification, reachable from the
network: face recognition and verification services (identify tags them ``biometric``)
and face-swap tools (``face-swap``), and the open camera streams (RTSP) and cameras
answering ONVIF discovery that feed them.
What a record shows is quoted: the product named,
and what answered a client without credentials, or that only the page was seen."""

from __future__ import annotations

from ...model import Observation
from ._base import Check, as_dict, http_section, page_title, quote, sec

BIOMETRIC_TAGS = ("biometric", "face-swap")


def biometric_exposure(obs: Observation) -> str | None:
    kinds = [t for t in BIOMETRIC_TAGS if t in obs.tags]
    if not kinds:
        return None
    h = http_section(obs)
    status = h.get("status")
    api = as_dict(h.get("api"))
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


def rtsp_no_auth(obs: Observation) -> str | None:
    """A camera or media stream described to a client without credentials: the feed a
    face-swap or face-recognition pipeline can take."""
    r = sec(obs, "rtsp")
    if r.get("status") != 200 or not isinstance(r.get("sdp"), dict):
        return None
    sdp = r["sdp"]
    media = sdp.get("media") or []
    name = sdp.get("session_name") or sdp.get("tool")
    return ("DESCRIBE rtsp://…/ answered 200 without credentials: "
            f"{len(media)} media stream(s)" + (f" ({quote(media[0], 40)})" if media else "")
            + (f", session {quote(name, 40)}" if name else ""))


def onvif_exposed(obs: Observation) -> str | None:
    """A camera or video encoder answering WS-Discovery from the network: its ONVIF
    device service (XAddrs) is where its streams, users and settings are managed, often
    with the vendor's default password."""
    o = sec(obs, "onvif")
    xaddrs = [str(x) for x in o.get("xaddrs") or []]
    named = [f"{k} {quote(o[k], 40)}" for k in ("name", "hardware") if o.get(k)]
    if not xaddrs and not named:
        return None
    said = ([f"XAddrs {quote(xaddrs[0], 60)}"] if xaddrs else []) + named
    return f"WS-Discovery Probe answered ProbeMatch: {', '.join(said)}"


CHECKS: tuple[Check, ...] = (
    Check("biometric-exposure", "high",
          "Face recognition or face-swap service exposed (biometric data, spoofing)",
          biometric_exposure),
    Check("rtsp-no-auth", "high", "Camera / media stream served over RTSP without credentials",
          rtsp_no_auth),
    Check("onvif-exposed", "medium", "ONVIF camera / video encoder discoverable from the "
          "network (WS-Discovery)", onvif_exposed),
)
