#!/usr/bin/env bash
# Set up and run the whole test suite (unit + integration against the real lab).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench
.venv/bin/mypy  # types: [tool.mypy] in pyproject.toml, src/netatlas with no errors
exec .venv/bin/pytest -q "$@"
