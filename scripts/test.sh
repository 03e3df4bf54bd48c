#!/usr/bin/env bash
# Set up and run the whole test suite (unit + integration against the real lab).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench
exec .venv/bin/pytest -q "$@"
