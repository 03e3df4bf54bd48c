"""Precision and recall of every risk check over the whole lab, per check.

    python bench/checks.py              # start the lab, grab + identify + assess it, print
    python bench/checks.py --no-up      # the lab as it is (services not running: left out)

The same code as tests/assess/test_lab.py (netatlas.lab.findings): every running lab
service grabbed, identified and assessed as a scan does, its findings compared with the
ones the lab expects of it (``findings.EXPECTED``). A finding raised and expected is right,
raised and not expected is false (precision), expected and not raised is missed (recall).
Checks no lab service can raise are listed after the table: the lab says nothing of them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

FORBIDDEN_PORT = 2024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-up", action="store_true", help="use the lab as it is (no Lab.up())")
    args = ap.parse_args()

    from netatlas.assess import CHECKS, assess
    from netatlas.lab import Lab
    from netatlas.lab.findings import EXPECTED, observe_all, per_check, table, total

    lab = Lab()
    truth = lab.status() if args.no_up else lab.up()
    down = sorted(t.name for t in truth if not t.running)
    services = [t for t in truth if t.running and t.port != FORBIDDEN_PORT]
    unlisted = sorted(s.name for s in services if s.name not in EXPECTED)
    if unlisted:
        print(f"lab services without expected findings: {', '.join(unlisted)}",
              file=sys.stderr)
        return 2
    t0 = time.monotonic()
    observed = asyncio.run(observe_all(services))
    wall = time.monotonic() - t0
    found = {s.name: {f.id for f in assess(o)} for s, o in zip(services, observed, strict=True)}
    scores = per_check(found)
    print(f"lab: {len(services)} services running"
          + (f", not running (left out): {', '.join(down)}" if down else "")
          + f"; grab + identify + assess {wall:.1f} s")
    for s in services:
        if found[s.name] != EXPECTED[s.name]:
            print(f"  {s.name}: want {sorted(EXPECTED[s.name])} got {sorted(found[s.name])}")
    print()
    print(table(scores, len(services)))
    untested = sorted({c.id for c in CHECKS} - set(scores))
    print(f"\nchecks no lab service raises or expects ({len(untested)}): {', '.join(untested)}")
    t = total(scores)
    return 0 if t.fp == 0 and t.fn == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
