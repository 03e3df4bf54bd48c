"""One rule's conclusion about a grab result, and how candidates are ranked."""

from __future__ import annotations

from dataclasses import dataclass, field

# A hard nmap match is a full-response fingerprint; a softmatch names only a service.
KIND_RANK = {"rule": 2, "match": 1, "softmatch": 0}


@dataclass(slots=True)
class Candidate:
    source: str  # "netatlas" or "nmap"
    kind: str  # "rule", "match", "softmatch"
    rule_id: str  # rule id, or "nmap:<probe>:<line>"
    service: str | None = None
    product: str | None = None
    version: str | None = None
    info: str | None = None
    os: str | None = None
    devicetype: str | None = None
    cpe: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    priority: int = 0
    component: bool = False  # names a part (PHP, Python), never the endpoint's product

    def score(self) -> tuple[int, bool, int, int]:
        """Higher is more specific: rule priority, then a known version, then our own
        rules over nmap matches over softmatches, then how much else it says."""
        extras = sum(x is not None for x in (self.info, self.os, self.devicetype))
        return (self.priority, self.version is not None, KIND_RANK.get(self.kind, 0), extras)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source, "kind": self.kind, "rule": self.rule_id,
            "service": self.service, "product": self.product, "version": self.version,
            "info": self.info, "os": self.os, "devicetype": self.devicetype,
            "cpe": list(self.cpe), "tags": list(self.tags),
        }
