"""identify: raw grab facts -> service / product / version / CPE / tags, from rule data.

Sources: netatlas's own YAML rules (``identify/rules/*.yaml``) and, when installed,
nmap's ``nmap-service-probes`` read in place. This package never touches the network.
"""

from netatlas.identify.candidate import Candidate
from netatlas.identify.engine import Identifier, default_identifier, explain, identify
from netatlas.identify.nmap_probes import NmapProbes, NmapResult, Probe, ServiceMatch
from netatlas.identify.rules import Rule, RuleError, RuleFile, load_rule_file, load_rules
from netatlas.identify.sources import list_sources

__all__ = [
    "Candidate",
    "Identifier",
    "NmapProbes",
    "NmapResult",
    "Probe",
    "Rule",
    "RuleError",
    "RuleFile",
    "ServiceMatch",
    "default_identifier",
    "explain",
    "identify",
    "list_sources",
    "load_rule_file",
    "load_rules",
]
