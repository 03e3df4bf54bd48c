"""Tunables for one grab. Every read is time-bounded and capped by these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .limit import ConnectLimiter

if TYPE_CHECKING:
    from .canary import CanaryPool


def _nothing_else_in_scope(host: str) -> bool:
    # Default: we may touch the endpoint we were given and nothing else.
    return False


def _any_port(port: int, transport: str) -> bool:
    # Default: no port excluded (the endpoint's own host is in scope by construction).
    return True


@dataclass(slots=True)
class GrabOptions:
    connect_timeout: float = 3.0
    read_timeout: float = 3.0  # bound on one logical read (a line, a reply), not per chunk
    banner_wait: float = 1.5  # how long to wait for a server-speaks-first greeting
    total_timeout: float = 15.0  # hard bound on the whole grab of one endpoint
    max_bytes: int = 64 * 1024  # cap on any one response we keep or parse
    max_body: int = 256 * 1024  # cap on an HTTP body
    user_agent: str = "netatlas/0.1 (+self-hosted survey)"
    host_header: str | None = None  # a hostname known for this endpoint (Host, SNI)
    # The scope's check for any OTHER host we might be tempted to contact. 0.1 never
    # contacts another host (redirects are recorded, not followed); kept so callers
    # wire it once and later features cannot forget it.
    in_scope: Callable[[str], bool] = field(default=_nothing_else_in_scope)
    # Whether another port of the same host may be contacted (a service another names,
    # e.g. the mountd a portmapper lists): never one the scan excluded (--exclude-ports),
    # whatever a server says.
    port_allowed: Callable[[int, str], bool] = field(default=_any_port)
    # The probe scheduler (grab/engine/scheduler.py): nmap's probes for what our grabbers cannot
    # name. nmap_probes: the installed nmap-service-probes (None: no scheduler);
    # nmap_intensity: nmap's --version-intensity (probes of higher rarity are sent only
    # when their ports hold the port); probe_parallel: connections at once per endpoint;
    # probe_budget: seconds the scheduler may spend; silent_budget: seconds while the
    # endpoint never answered anything (None: read_timeout / 2), what a tarpit costs extra.
    nmap_probes: str | None = "/usr/share/nmap/nmap-service-probes"
    nmap_intensity: int = 7
    probe_parallel: int = 6
    probe_budget: float = 8.0
    silent_budget: float | None = None
    # Scan-wide pacing of new connections (grab/engine/limit.py), shared by every grab of a run.
    limiter: ConnectLimiter | None = None
    # An http:// URL inside the scope: HTTP endpoints that look like proxies are asked to
    # fetch it (the open-proxy check, grab/engine/proxy.py). None: the first HTTP service this
    # scan found in scope (``canaries``, grab/engine/canary.py), when there is a pool.
    proxy_canary: str | None = None
    canaries: CanaryPool | None = None
