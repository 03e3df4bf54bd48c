"""One scan as a stream: scope -> discover -> grab -> identify -> store.

Nothing here holds the target space: the permutation yields (position, endpoint)
lazily, discover pulls from it as connect slots free up, open endpoints flow to a
bounded pool of grab workers, and each observation goes straight to the store's
writer. Progress is a watermark over permutation positions: every position below it
is fully done (probed, and grabbed if open), so ``--resume`` restarts from there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from netatlas.assess import CveDB, assess, redact_observation
from netatlas.assess.intrusive import SECTION as DEFAULT_LOGIN_SECTION
from netatlas.assess.intrusive import Target, check_default_logins
from netatlas.discover import Discoverer, MixedDiscoverer, SynDiscoverer, UdpDiscoverer
from netatlas.discover._rawnet import check_rights
from netatlas.enrich.geo import GeoIP
from netatlas.grab import GrabOptions, grab_endpoint
from netatlas.grab.engine.canary import CanaryPool, wants_canary
from netatlas.grab.engine.core import check_proxy_later
from netatlas.grab.engine.limit import ConnectLimiter
from netatlas.grab.engine.proxy import Canary
from netatlas.identify import Identifier
from netatlas.model import Endpoint, GrabResult, Observation, Scan, utcnow
from netatlas.ratelimit import RateBucket
from netatlas.scope import (
    Permutation,
    PortSet,
    Scope,
    ScopeError,
    TargetSpace,
    exclude_ports,
    excluded_check,
    iter_endpoints,
    parse_ports,
    parse_targets,
    require_something_to_scan,
    top_ports,
)
from netatlas.store import Store

CHECKPOINT_SECONDS = 1.0

# How TCP ports are found (ScanConfig.method; `scan --connect/--syn`, the API's `method`)
DISCOVER_METHODS = {
    "connect": "full TCP connects (no privilege needed)",
    "syn": "stateless raw SYNs, ZMap-style (needs CAP_NET_RAW; IPv4)",
}


@dataclass(slots=True)
class ScanConfig:
    """Everything needed to run — and later resume — one scan. Stored as the scan's args."""

    targets: list[str]
    allow: list[str] = field(default_factory=list)
    allow_files: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    exclude_files: list[str] = field(default_factory=list)
    ports: str | None = None
    top_ports: int | None = None
    exclude_ports: str | None = None
    seed: int = 0
    shard: tuple[int, int] = (0, 1)
    rate: float | None = None
    method: str = "connect"  # TCP discovery: a key of DISCOVER_METHODS
    concurrency: int = 1000
    timeout: float = 1.0
    retries: int = 0
    grab: bool = True
    grab_concurrency: int = 64
    banner_wait: float = 1.5
    grab_timeout: float = 15.0
    geoip: list[str] = field(default_factory=list)  # MaxMind-format databases (enrich)
    redact_pii: bool = False  # mask e-mail addresses, phone and ID numbers before storing
    proxy_canary: str | None = None  # in-scope http:// URL for the open-proxy check
    # INTRUSIVE, opt-in: try a short list of vendor default credentials on identified
    # services (assess/intrusive/); a login that works is a critical `default-login`
    check_default_logins: bool = False
    # host names resolved once at the start, so a resumed scan visits the same addresses
    resolved: dict[str, list[str]] = field(default_factory=dict)

    def to_args(self) -> dict[str, Any]:
        args = asdict(self)
        args["shard"] = list(self.shard)
        return args

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> ScanConfig:
        known = {k: v for k, v in args.items() if k in cls.__dataclass_fields__}
        known["shard"] = tuple(known.get("shard", (0, 1)))
        return cls(**known)


def new_scan_id() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


@dataclass(slots=True)
class Plan:
    """The scan's concrete target space, built and checked before any packet leaves."""

    scope: Scope
    space: TargetSpace
    permutation: Permutation
    hostnames: dict[str, list[str]]


def plan_scan(cfg: ScanConfig) -> Plan:
    """Resolve and check everything; raises ScopeError for anything outside scope."""
    scope = Scope(
        allow=cfg.allow,
        exclude=cfg.exclude,
        allow_files=cfg.allow_files,
        exclude_files=cfg.exclude_files,
    )
    if cfg.resolved:
        # a resumed scan: use the addresses recorded when it started
        specs = [a for spec in cfg.targets for a in cfg.resolved.get(spec, [spec])]
        targets = parse_targets(specs, resolve=False)
    else:
        targets = parse_targets(cfg.targets, resolve=True)
    scope.check_targets(targets)
    if cfg.method not in DISCOVER_METHODS:
        raise ValueError(f"unknown discovery method {cfg.method!r}: "
                         f"one of {', '.join(DISCOVER_METHODS)}")
    if cfg.method == "syn" and targets.v6:
        raise ValueError("--syn scans IPv4 only: give IPv6 targets to a --connect scan")
    if cfg.proxy_canary:
        check_canary(scope, cfg.proxy_canary)
    if cfg.top_ports:
        ports: PortSet = top_ports(cfg.top_ports)
    else:
        ports = parse_ports(cfg.ports or "1-1024")
    if cfg.exclude_ports:
        ports = exclude_ports(ports, cfg.exclude_ports)
    space = TargetSpace(targets, ports, scope)
    require_something_to_scan(space)  # all denied, or no port left: say so, send nothing
    permutation = Permutation(space.size, seed=cfg.seed, shard=cfg.shard)
    hostnames = dict(targets.hostnames)
    if not cfg.resolved:
        cfg.resolved = _resolved_specs(cfg.targets, hostnames)
    return Plan(scope, space, permutation, hostnames)


def check_canary(scope: Scope, url: str) -> None:
    """The open-proxy canary makes proxies connect to its host: it must be an address
    inside the scope, like any target (a name would need resolving; ask for the IP)."""
    try:
        host = Canary.parse(url).host
        ipaddress.ip_address(host)
    except ValueError as e:
        raise ScopeError(f"proxy canary {url!r}: {e}; give an http:// URL whose host is an "
                         "IP address inside the scope") from None
    if not scope.is_allowed(host):
        raise ScopeError(f"refusing to scan: proxy canary {url!r} is outside the allow list "
                         f"({scope.describe_allow()}); nothing was sent")


def _resolved_specs(specs: list[str], hostnames: dict[str, list[str]]) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = {}
    for ip, names in hostnames.items():
        for name in names:
            by_name.setdefault(name, []).append(ip)
    return {spec: sorted(by_name[spec]) for spec in specs if spec in by_name}


ProgressFn = Callable[[Scan], None]


@dataclass(slots=True)
class RunHooks:
    """How one shard of a distributed scan runs on a worker (``netatlas.cluster``):
    progress goes to its shard row, the rate budget is shared by every worker, records
    already stored by an earlier attempt are not stored twice, and each record says
    which worker and source address saw it. The defaults are the single-process scan."""

    checkpoint: ProgressFn | None = None  # default: store.update_scan
    probe_bucket: RateBucket | None = None  # discover's probes (default: --rate, local)
    connect_bucket: RateBucket | None = None  # grab's new connections
    already_stored: Callable[[Endpoint], Awaitable[bool]] | None = None
    worker: str | None = None
    vantage: str | None = None


class ScanRunner:
    """Runs one planned scan into a store; safe to cancel at any await."""

    def __init__(self, store: Store, scan: Scan, cfg: ScanConfig, plan: Plan,
                 hooks: RunHooks | None = None) -> None:
        self.store = store
        self.scan = scan
        self.cfg = cfg
        self.plan = plan
        self.hooks = hooks = hooks or RunHooks()
        self._checkpoint = hooks.checkpoint or store.update_scan
        self.identifier = Identifier()
        self.discoverer = _tcp_discoverer(cfg, plan, cfg.rate, hooks.probe_bucket)
        # UDP ports: a UDP engine beside the TCP one, each over its own probes
        self.mixed = (_mixed_discoverer(cfg, plan, hooks.probe_bucket)
                      if plan.space.ports.udp else None)
        limiter = None
        if cfg.rate:
            limiter = ConnectLimiter(cfg.rate, bucket=hooks.connect_bucket)
        self.grab_options = GrabOptions(
            banner_wait=cfg.banner_wait,
            total_timeout=cfg.grab_timeout,
            in_scope=plan.scope.is_allowed,
            port_allowed=excluded_check(cfg.exclude_ports),
            proxy_canary=cfg.proxy_canary,
            # no --proxy-canary: an HTTP service this scan finds in scope (grab/engine/canary.py)
            canaries=None if cfg.proxy_canary else CanaryPool(plan.scope.is_allowed),
            limiter=limiter,
        )
        self._pending: set[int] = set()  # positions found open, grab not yet stored
        # proxies grabbed before any canary was known: checked and stored at the end
        self._deferred: list[tuple[int, Endpoint, GrabResult]] = []
        self.geoip = GeoIP.open(cfg.geoip)
        # CVEs imported with `netatlas cve import` live in the same store
        self.cve_db = CveDB(store)

    async def run(self, on_progress: ProgressFn | None = None) -> Scan:
        start = self.scan.done
        queue: asyncio.Queue[tuple[int, Endpoint]] = asyncio.Queue(
            maxsize=self.cfg.grab_concurrency * 4
        )
        workers = [
            asyncio.create_task(self._grab_worker(queue)) for _ in range(self.cfg.grab_concurrency)
        ]
        ticker = asyncio.create_task(self._tick(start, on_progress))
        try:
            space, perm = self.plan.space, self.plan.permutation
            # a SYN engine takes its probes as arrays, a batch at a time (no Endpoint
            # per probe: only those found open get one)
            if self.mixed is not None:
                found = self.mixed.run(lambda: iter_endpoints(space, perm, start_position=start),
                                       lambda transport: space.batches(perm, start, transport))
            elif isinstance(self.discoverer, SynDiscoverer):
                found = self.discoverer.run(space.batches(perm, start))
            else:
                found = self.discoverer.run(iter_endpoints(space, perm, start_position=start))
            async for position, endpoint in found:
                self.scan.open_ports += 1
                if not self.plan.scope.is_allowed(endpoint.ip):  # defence in depth
                    continue
                self._pending.add(position)
                await queue.put((position, endpoint))
            await queue.join()
            await self._finish_deferred()
            self.scan.status = "finished"
            self.scan.finished = utcnow()
            self.scan.done = self.scan.total
        except asyncio.CancelledError:
            self.scan.status = "interrupted"
            raise
        except BaseException:
            self.scan.status = "failed"
            raise
        finally:
            ticker.cancel()
            for w in workers:
                w.cancel()
            await asyncio.gather(ticker, *workers, return_exceptions=True)
            if self.scan.status != "finished":
                self.scan.done = self._safe_watermark(start)
            self._checkpoint(self.scan)
            self.store.flush()
            if on_progress:
                on_progress(self.scan)
        return self.scan

    def _safe_watermark(self, start: int) -> int:
        # discover's watermark is an absolute position; it reads 0 before the first pull
        mark = self.mixed.watermark if self.mixed is not None else self.discoverer.watermark
        done = max(start, mark)
        if self._pending:
            done = min(done, min(self._pending))
        return done

    async def _tick(self, start: int, on_progress: ProgressFn | None) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            self.scan.done = self._safe_watermark(start)
            self._checkpoint(self.scan)
            if on_progress:
                on_progress(self.scan)

    async def _grab_worker(self, queue: asyncio.Queue[tuple[int, Endpoint]]) -> None:
        while True:
            position, endpoint = await queue.get()
            try:
                stored = await self._observe(position, endpoint)
            except BaseException:
                # interrupted mid-grab (or failed): the position stays pending, so the
                # stored watermark cannot pass an endpoint whose record was never written
                queue.task_done()
                raise
            if stored:
                self._pending.discard(position)
            queue.task_done()

    async def _observe(self, position: int, endpoint: Endpoint) -> bool:
        """Grab and store one endpoint; False when its record waits for a canary."""
        if self.hooks.already_stored is not None and await self.hooks.already_stored(endpoint):
            return True  # an earlier attempt at this shard stored it before its worker died
        if self.cfg.grab:
            result = await grab_endpoint(endpoint, self.grab_options)
        else:
            result = GrabResult()
        if self.cfg.check_default_logins and self.cfg.grab and result.status == "success":
            await self._default_logins(endpoint, result)
        if self.grab_options.canaries is not None and wants_canary(result):
            self._deferred.append((position, endpoint, result))  # stays pending till then
            return False
        self._store(endpoint, result)
        return True

    async def _finish_deferred(self) -> None:
        """The proxies found before any HTTP service of the scope: checked against the
        canary the scan has now (if any), then stored."""
        pool = self.grab_options.canaries
        while self._deferred:
            position, endpoint, result = self._deferred.pop(0)
            canary = pool.pick(endpoint) if pool is not None else None
            if canary:
                await check_proxy_later(endpoint, result, self.grab_options, canary)
            self._store(endpoint, result)
            self._pending.discard(position)

    async def _default_logins(self, endpoint: Endpoint, result: GrabResult) -> None:
        """--check-default-logins: the vendor defaults for what identify names, tried on
        this scoped endpoint only (never another host or port); the outcome is a record
        section, and `assess` turns an accepted login into its finding."""
        if not self.plan.scope.is_allowed(endpoint.ip) or endpoint.transport != "tcp":
            return
        ident = self.identifier.identify(result, endpoint)
        target = Target(ip=endpoint.ip, port=endpoint.port, tls=result.tls,
                        service=ident.service or result.service or "",
                        product=ident.product or "", sections=result.sections)
        section = await check_default_logins(target)
        if section is not None:
            result.sections[DEFAULT_LOGIN_SECTION] = section

    def _store(self, endpoint: Endpoint, result: GrabResult) -> None:
        ident = self.identifier.identify(result, endpoint)
        if http := result.sections.get("http"):
            # every web technology seen, beside the one product named (Wappalyzer data)
            http["technologies"] = self.identifier.technologies(http)
        obs = Observation.build(
            endpoint,
            self.scan.id,
            result,
            ident,
            hostnames=self.plan.hostnames.get(endpoint.ip, []),
        )
        if self.geoip and (geo := self.geoip.lookup(endpoint.ip)):
            obs.location = geo.get("location")
            obs.asn, obs.org, obs.isp = geo.get("asn"), geo.get("org"), geo.get("isp")
        obs.worker, obs.vantage = self.hooks.worker, self.hooks.vantage
        obs.risks = assess(obs)
        if obs.cpe:
            obs.vulns = self.cve_db.match(obs.cpe, obs.version)
        if self.cfg.redact_pii:
            redact_observation(obs)  # after assess, so the PII counts are kept
        self.store.add(obs)
        self.scan.observations += 1


def _tcp_discoverer(cfg: ScanConfig, plan: Plan, rate: float | None,
                    bucket: RateBucket | None) -> Discoverer | SynDiscoverer:
    """The TCP engine of ``cfg.method``. A SYN scan checks each reply against the
    permutation (``space.at``) and each destination against the scope's intervals."""
    if cfg.method == "syn":
        space, perm = plan.space, plan.permutation
        return SynDiscoverer(lambda pos: space.at(perm, pos),
                             plan.scope.permitted_intervals(4), rate=rate,
                             timeout=cfg.timeout, retries=cfg.retries, bucket=bucket,
                             # shards sending at once from one address each get their
                             # own source ports, so none counts another's replies invalid
                             shard=cfg.shard)
    return Discoverer(rate=rate, concurrency=cfg.concurrency, timeout=cfg.timeout,
                      retries=cfg.retries, bucket=bucket)


def _mixed_discoverer(cfg: ScanConfig, plan: Plan,
                      bucket: RateBucket | None = None) -> MixedDiscoverer:
    """TCP and UDP engines sharing ``--rate`` in proportion to their port counts. UDP
    always re-sends once after silence (datagrams get lost; a SYN is retried by the
    kernel)."""
    ports = plan.space.ports
    n_tcp, n_udp = len(ports.tcp), len(ports.udp)

    def share(n: int) -> float | None:
        return cfg.rate * n / (n_tcp + n_udp) if cfg.rate else None

    # a shared bucket (a cluster's global rate) serves both engines as they ask
    tcp = _tcp_discoverer(cfg, plan, share(n_tcp), bucket) if n_tcp else None
    udp = UdpDiscoverer(rate=share(n_udp), concurrency=cfg.concurrency, timeout=cfg.timeout,
                        retries=max(1, cfg.retries), bucket=bucket)
    return MixedDiscoverer(tcp, udp)


def start_scan(store: Store, cfg: ScanConfig) -> tuple[Scan, Plan]:
    """Plan (scope-checked) and register a new scan; nothing is sent yet."""
    if not cfg.seed:
        cfg.seed = secrets.randbits(32)
    plan = plan_scan(cfg)
    if cfg.method == "syn":
        check_rights()  # RawSocketDenied (one line, offering --connect) before it begins
    scan = Scan(id=new_scan_id(), started=utcnow(), args=cfg.to_args())
    scan.total = plan.permutation.steps  # positions, the unit of `done`
    store.begin_scan(scan)
    return scan, plan


# Pace settings a resumed scan may change: they do not move the permutation or scope.
RESUME_OVERRIDABLE = frozenset({"rate", "concurrency", "timeout", "retries",
                                "grab_concurrency", "banner_wait", "method"})


def resume_scan(store: Store, scan_id: str, overrides: dict[str, Any] | None = None
                ) -> tuple[Scan, ScanConfig, Plan]:
    """The interrupted scan's own config, with pace ``overrides`` (e.g. a lower rate
    for the rest of the night); what it visits and in which order never changes."""
    scan = store.get_scan(scan_id)
    if scan is None:
        raise LookupError(f"no scan with id {scan_id!r}")
    if scan.status == "finished":
        raise ValueError(f"scan {scan_id} already finished")
    cfg = ScanConfig.from_args(scan.args)
    for name, value in (overrides or {}).items():
        if name not in RESUME_OVERRIDABLE:
            raise ValueError(f"--{name.replace('_', '-')} cannot change on --resume: "
                             "it would change what the scan visits")
        setattr(cfg, name, value)
    if overrides:
        scan.args = cfg.to_args()
    plan = plan_scan(cfg)
    if cfg.method == "syn":
        check_rights()
    scan.status = "running"
    return scan, cfg, plan


async def run(store: Store, scan: Scan, cfg: ScanConfig, plan: Plan,
              on_progress: ProgressFn | None = None, hooks: RunHooks | None = None) -> Scan:
    return await ScanRunner(store, scan, cfg, plan, hooks).run(on_progress)
