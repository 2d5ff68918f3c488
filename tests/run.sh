#!/usr/bin/env bash
# The whole suite, as `make test` and CI run it. The soak test (minutes of a steady, light run)
# goes alongside the rest instead of after it, so the suite's time stays within CI's budget.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=build/test-artifacts
mkdir -p "$OUT"
"$BIN/pytest" -q -m soak tests/soak >"$OUT/soak.log" 2>&1 &
soak=$!
"$BIN/pytest" -q -m "not soak" | tee "$OUT/suite.log"
suite=${PIPESTATUS[0]}
wait "$soak"
soak_rc=$?
echo "--- soak test, run alongside the suite ($OUT/soak.log):"
if [ "$soak_rc" -eq 0 ]; then tail -n 2 "$OUT/soak.log"; else cat "$OUT/soak.log"; fi
echo "--- suite:"
tail -n 1 "$OUT/suite.log"
exit $((suite != 0 ? suite : soak_rc))
