"""Protocol hygiene: user enumeration, weak session security, management and cluster
interfaces reachable from the network."""

from __future__ import annotations

from ._base import Check

CHECKS: tuple[Check, ...] = ()
