"""scope: what netatlas may touch, and in which order.

Target and port syntax, the allow/deny policy, the (address x port) target space and
its random, shardable, resumable permutation. Nothing outside the allow list gets
through: building a ``TargetSpace`` checks every target first.
"""

from __future__ import annotations

from .errors import OutOfScope, ScopeError
from .permutation import MAX_SIZE, Permutation
from .policy import NO_ALLOW, Permitted, Scope
from .ports import (
    PortSet,
    exclude_ports,
    excluded_check,
    parse_ports,
    top_ports,
    top_ports_ordered,
)
from .refusals import require_something_to_scan
from .reserved import RESERVED, RESERVED_V4, RESERVED_V6
from .space import TargetSpace, iter_endpoints
from .targets import TargetEntry, Targets, parse_targets

__all__ = [
    "MAX_SIZE",
    "NO_ALLOW",
    "RESERVED",
    "RESERVED_V4",
    "RESERVED_V6",
    "OutOfScope",
    "Permitted",
    "Permutation",
    "PortSet",
    "Scope",
    "ScopeError",
    "TargetEntry",
    "TargetSpace",
    "Targets",
    "exclude_ports",
    "excluded_check",
    "iter_endpoints",
    "parse_ports",
    "parse_targets",
    "require_something_to_scan",
    "top_ports",
    "top_ports_ordered",
]
