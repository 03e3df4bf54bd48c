"""A synthetic NVD CVE JSON 2.0 feed of any size, written as a stream (the writer itself
holds one record at a time), for the memory test of ``netatlas cve import``.

Every record has the real feed's shape: id, dates, an English description, a CVSS 3.1
metric and one configuration of ``cpeMatch`` entries with version ranges. Record ``i``
names product ``synthprod<i % PRODUCTS>`` of vendor ``synth``, affected from 1.0 up to
(excluding) 2.<i % 10>, so ``cpe:/a:synth:synthprod0:1.5`` is hit by every record
with ``i % PRODUCTS == 0``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

PRODUCTS = 500
_SUMMARY = ("A synthetic flaw in the request parser lets a remote attacker, without"
            " authentication, crash the service or read memory it should not, through a"
            " crafted message sent to the listening port. ") * 2


def record(i: int) -> dict[str, object]:
    product = f"synthprod{i % PRODUCTS}"
    score = round(1.0 + (i % 90) / 10, 1)
    return {"cve": {
        "id": f"CVE-2099-{i:06d}",
        "sourceIdentifier": "cve@example.invalid",
        "published": "2099-01-01T00:00:00.000",
        "lastModified": "2099-01-02T00:00:00.000",
        "vulnStatus": "Analyzed",
        "descriptions": [{"lang": "en", "value": f"{_SUMMARY}(record {i})"}],
        "metrics": {"cvssMetricV31": [{
            "source": "nvd@nist.gov", "type": "Primary",
            "cvssData": {"version": "3.1", "baseScore": score,
                         "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}]},
        "configurations": [{"nodes": [{"operator": "OR", "negate": False, "cpeMatch": [
            {"vulnerable": True, "criteria": f"cpe:2.3:a:synth:{product}:*:*:*:*:*:*:*:*",
             "versionStartIncluding": "1.0", "versionEndExcluding": f"2.{i % 10}",
             "matchCriteriaId": "00000000-0000-0000-0000-000000000000"},
            {"vulnerable": False, "criteria": "cpe:2.3:o:synth:os:-:*:*:*:*:*:*:*",
             "matchCriteriaId": "00000000-0000-0000-0000-000000000001"},
        ]}]}],
        "references": [{"url": f"https://example.invalid/advisory/{i}",
                        "source": "cve@example.invalid"}],
    }}


def write_feed(path: Path, count: int, *, gz: bool = False) -> Path:
    """Write ``count`` records to ``path`` (gzip-compressed when ``gz``)."""
    header = ('{"resultsPerPage": %d, "startIndex": 0, "totalResults": %d, "format":'
              ' "NVD_CVE", "version": "2.0", "timestamp": "2099-01-03T00:00:00.000",'
              ' "vulnerabilities": [\n')
    with (gzip.open(path, "wt", encoding="utf-8", compresslevel=1) if gz
          else open(path, "w", encoding="utf-8")) as out:
        out.write(header.replace("%d", str(count)))
        for i in range(count):
            out.write((",\n" if i else "") + json.dumps(record(i)))
        out.write("\n]}\n")
    return path
