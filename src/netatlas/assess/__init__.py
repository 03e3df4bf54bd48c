"""assess: risk findings from what a record holds, PII detection, CVE correlation."""

from .checks import CHECKS, Check
from .cve import CveDB
from .findings import assess
from .pii import find_pii, redact, redact_observation

__all__ = ["CHECKS", "Check", "CveDB", "assess", "find_pii", "redact", "redact_observation"]
