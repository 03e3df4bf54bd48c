#!/usr/bin/env bash
# The main job, end to end: set up, start the lab of real services on 127.20.x.y,
# scan it, and show what was found.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export NETATLAS_DB="${NETATLAS_DB:-$PWD/netatlas.db}"
na=.venv/bin/netatlas
# Public fingerprint databases (Recog, Wappalyzer format), read in place where the user has them
if [ -z "${NETATLAS_FINGERPRINTS:-}" ] && [ -d ../shared/fingerprints ]; then
  export NETATLAS_FINGERPRINTS="$(cd ../shared/fingerprints && pwd)"
fi

$na lab up --installed  # what install-system-deps.sh left out (a conflict with a package you have) is said and skipped
# Port 2024 is not ours on this machine: never scan it. The lab's nginx is the canary
# that open proxies are asked to fetch.
$na scan 127.20.0.0/24 -p "1-1024,$($na lab ports)" \
  --exclude-ports 2024 --allow 127.20.0.0/16 --proxy-canary http://127.20.0.2/
$na search 'net:127.20.0.0/24'
$na stats '' --facets service,product,port
echo
echo "Try:  $na search 'port:22 product:openssh'   |   $na host 127.20.0.3"
echo "Web UI: http://127.0.0.1:${NETATLAS_PORT:-8000}/search  (Ctrl-C to stop; '$na lab down' stops the lab)"
exec $na serve --open --host 127.0.0.1 --port "${NETATLAS_PORT:-8000}"
