"""Discover: which endpoints are open (asyncio TCP connect; raw SYN and UDP later)."""

from netatlas.discover._progress import Watermark
from netatlas.discover._ratelimit import TokenBucket
from netatlas.discover._stats import DiscoverStats
from netatlas.discover._tcp import Discoverer, Probe

__all__ = ["DiscoverStats", "Discoverer", "Probe", "TokenBucket", "Watermark"]
