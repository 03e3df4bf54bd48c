#!/usr/bin/env bash
# Set up and run the whole test suite (unit + integration against the real lab).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench
.venv/bin/mypy  # types: [tool.mypy] in pyproject.toml, src/netatlas with no errors
# Three pytest-xdist workers: most of the suite waits on sockets, daemons and
# subprocesses (a run used 0.65 CPU on average with 2 workers, 0.9 with 3), so 3 fit
# 2 cores. Tests that share the lab, fixed addresses or session-wide servers stay
# together (--dist loadgroup, groups in tests/xdist_groups.py).
# NETATLAS_TEST_WORKERS=0: one process, as before.
exec .venv/bin/pytest -q -n "${NETATLAS_TEST_WORKERS:-3}" --dist loadgroup "$@"
