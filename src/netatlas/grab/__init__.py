"""grab: talk to each open TCP endpoint and collect facts (never decides products).

One module per protocol; sockets only in ``conn``; parsers are sans-IO functions
that take bytes and return facts.
"""

from .core import grab_endpoint
from .options import GrabOptions

__all__ = ["GrabOptions", "grab_endpoint"]
