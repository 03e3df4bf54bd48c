"""enrich: where an address is and who holds it, from databases the user supplies.

Nothing here calls an online service: geo, ASN and organisation come from local
MaxMind-format (MMDB) files.
"""

from __future__ import annotations

from netatlas.enrich.geo import GeoIP, enrich_record

__all__ = ["GeoIP", "enrich_record"]
