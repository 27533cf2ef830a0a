#!/usr/bin/env bash
# Manual check (not part of `make test`): reports/report.html renders in a real headless browser
# with the follow-up and credit sections (issue 17), and with no network.
#
# Loads the page in headless Chromium (`apt-get install chromium`) inside a network namespace
# that has only loopback (root: unshare -n), dumps the DOM as the browser built it and checks
# the sections' text there; writes a full-page screenshot. `make run` first.
# Usage: bash bench/report_browser.sh [output-dir]   (default: /tmp/leadscore-report-browser)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-/tmp/leadscore-report-browser}"
REPORT="$ROOT/reports/report.html"
mkdir -p "$OUT"
command -v chromium >/dev/null || { echo "chromium not installed" >&2; exit 2; }
test -f "$REPORT" || { echo "no $REPORT: run make run first" >&2; exit 2; }

exec unshare -n bash -s "$REPORT" "$OUT" <<'INSIDE'
set -euo pipefail
REPORT="$1"; OUT="$2"
ip link set lo up
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run
       --user-data-dir="$profile" --virtual-time-budget=5000)
chromium "${flags[@]}" --dump-dom "file://$REPORT" >"$OUT/dom.html" 2>"$OUT/chromium.log"
chromium "${flags[@]}" --window-size=1280,9000 --screenshot="$OUT/report.png" \
  "file://$REPORT" >>"$OUT/chromium.log" 2>&1
status=0
for expected in "Sales' follow-up: how fast and how fully sales worked each grade" \
                "A leads first contacted" "Slow follow-up cost about" \
                "Marketing's credit: what marketing delivered and sales won" \
                "Reconciliation with the contract view: exact" "The promises and the verdicts"; do
  if grep -qF "$expected" "$OUT/dom.html"; then echo "found: $expected"
  else echo "MISSING: $expected"; status=1; fi
done
images=$(grep -o '<img[^>]*src="data:image/png' "$OUT/dom.html" | wc -l)
echo "embedded charts rendered: $images; DOM $(wc -c <"$OUT/dom.html") bytes; screenshot $OUT/report.png"
exit $status
INSIDE
