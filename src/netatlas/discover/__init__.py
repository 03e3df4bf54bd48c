"""Discover: which endpoints are open (asyncio TCP connect; stateless raw SYN; UDP
protocol probes)."""

from netatlas.discover._mixed import MixedDiscoverer
from netatlas.discover._payloads import Payloads
from netatlas.discover._progress import Watermark
from netatlas.discover._rawnet import RawSocketDenied
from netatlas.discover._stats import DiscoverStats
from netatlas.discover._syn import SynDiscoverer
from netatlas.discover._tcp import Discoverer, Probe
from netatlas.discover._udp import UdpDiscoverer
from netatlas.ratelimit import TokenBucket

__all__ = ["DiscoverStats", "Discoverer", "MixedDiscoverer", "Payloads", "Probe",
           "RawSocketDenied", "SynDiscoverer", "TokenBucket", "UdpDiscoverer", "Watermark"]
