"""``import --reidentify``: netatlas's identification and risk checks over imported
banners — the stored bytes only; nothing here opens a socket (the imported address
may be anywhere).

The protocol parsers the grabbers use on live replies (sans-IO) rebuild sections from
the banner where the producer kept only text: a Redis ``INFO`` reply (Shodan keeps its
body), an FTP greeting and replies, an rsync greeting and module listing, an SSH
identification line, an HTTP response head. Where the producer also wrote the section
(Shodan's ``redis``, ``ftp``, ``rsync`` objects, translated), the two are joined, the
banner's parse winning where both say something (banner_sections.py): Shodan's object
may hold one field of INFO's many, its ``data`` all of them. Then ``identify`` and
``assess`` run as in a scan, and CVEs are matched from the offline feed when loaded.
What identification names replaces the producer's guess; what it cannot name keeps
the producer's.
"""

from __future__ import annotations

import contextlib

from netatlas.assess import CveDB, assess
from netatlas.grab.codecs.httpparse import parse_response
from netatlas.grab.engine.errors import ProtocolError
from netatlas.grab.protocols.ssh import parse_ident
from netatlas.identify import Identifier
from netatlas.model import Endpoint, GrabResult, Observation
from netatlas.store import Store

from .banner_sections import PARSERS, union


def rebuild_sections(obs: Observation) -> None:
    """Sections the banner itself proves, where the record lacks them."""
    data = obs.data
    for name, (parse, unnamed) in PARSERS.items():
        said = obs.service == name or (obs.service is None and unnamed)
        if said and (section := parse(data)):
            obs.sections[name] = union(obs.sections.get(name), section)
            obs.service = name
            break
    if "ssh" not in obs.sections and data.startswith(b"SSH-"):
        with contextlib.suppress(ProtocolError):
            obs.sections["ssh"] = parse_ident(data.split(b"\n", 1)[0])
    if "http" not in obs.sections and data.startswith(b"HTTP/"):
        resp = parse_response(data)
        if resp.status is not None:
            obs.sections["http"] = {"status": resp.status, "server": resp.header("server"),
                                    "headers": resp.header_dict()}


class Reidentifier:
    def __init__(self, store: Store) -> None:
        self.identifier = Identifier()
        self.cve = CveDB(store)

    def __call__(self, obs: Observation) -> Observation:
        rebuild_sections(obs)
        grab = GrabResult(service=obs.service, data=obs.data, tls="ssl" in obs.sections,
                          sections=obs.sections, responses={"NULL": obs.data})
        ident = self.identifier.identify(grab, Endpoint(obs.ip, obs.port, obs.transport))
        if ident.product:
            obs.product, obs.version = ident.product, ident.version
            obs.cpe = list(ident.cpe) or obs.cpe
        obs.service = ident.service or obs.service
        for attr in ("info", "os", "devicetype"):
            if value := getattr(ident, attr):
                setattr(obs, attr, value)
        obs.tags = sorted(set(obs.tags) | set(ident.tags))
        if http := obs.sections.get("http"):
            techs = self.identifier.technologies(http)
            if techs:
                http["technologies"] = techs
        obs.risks = assess(obs)
        if obs.cpe:
            obs.vulns = {**obs.vulns, **self.cve.match(obs.cpe, obs.version)}
        return obs
