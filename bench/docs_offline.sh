#!/usr/bin/env bash
# Manual check (not part of `make test`): /docs and /redoc render with no network at all.
#
# Runs the service on the trained model (`make run` first) and headless Chromium inside a new
# network namespace that has only loopback, so nothing can be fetched from outside; writes
# screenshots of both pages. Needs root (unshare -n) and Chromium (`apt-get install chromium`).
# Usage: bash bench/docs_offline.sh [output-dir]   (default: /tmp/leadscore-docs-offline)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-/tmp/leadscore-docs-offline}"
mkdir -p "$OUT"
command -v chromium >/dev/null || { echo "chromium not installed" >&2; exit 2; }

exec unshare -n bash -s "$ROOT" "$OUT" <<'INSIDE'
set -euo pipefail
ROOT="$1"; OUT="$2"; PORT=18080
ip link set lo up
if curl -s -m 5 -o /dev/null https://pypi.org/simple/; then echo "network reachable?!" >&2; exit 1; fi
echo "no route out of this namespace (as intended)"
cd "$ROOT"
LEADSCORE_PORT=$PORT LEADSCORE_API_KEYS=demo LEADSCORE_LOG_SCORES=false \
  .venv/bin/leadscore serve >"$OUT/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -sf -m 2 "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 1; done
for page in docs redoc; do
  profile="$(mktemp -d)"
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
    --user-data-dir="$profile" --window-size=1280,1600 --virtual-time-budget=15000 \
    --screenshot="$OUT/$page.png" "http://127.0.0.1:$PORT/$page" >"$OUT/chromium-$page.log" 2>&1
  rm -rf "$profile"
  echo "$page -> $OUT/$page.png"
done
INSIDE
