"""grab: talk to each open TCP endpoint and collect facts (never decides products).

``engine/`` runs a grab and detects the protocol, ``protocols/`` holds one module per
protocol (each declares itself to the registry), ``codecs/`` the pure byte codecs they
share. Sockets only in ``engine.conn`` and ``engine.dgram``; parsers are sans-IO
functions that take bytes and return facts.
"""

from .engine.core import grab_endpoint
from .engine.options import GrabOptions

__all__ = ["GrabOptions", "grab_endpoint"]
