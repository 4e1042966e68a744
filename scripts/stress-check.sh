#!/usr/bin/env bash
# The whole suite, N times in a row (default 20), while other processes keep every core busy:
# a test that waits on time instead of a condition shows up here, not on a quiet machine.
#   scripts/stress-check.sh [N] [pytest args...]
# Exit status 0 only if every run passed; the failing runs' output is kept in $LOG_DIR.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs="${1:-20}"
shift || true
LOG_DIR="${LOG_DIR:-$(mktemp -d)}"
burners=()
cleanup() { kill "${burners[@]}" 2>/dev/null; wait "${burners[@]}" 2>/dev/null; }
trap cleanup EXIT
for _ in $(seq "$(nproc)"); do
    python3 -c 'while True: pass' &
    burners+=($!)
done
passed=0
for i in $(seq "$runs"); do
    start=$(date +%s)
    if ./check -q -p no:cacheprovider "$@" > "$LOG_DIR/run-$i.log" 2>&1; then
        passed=$((passed + 1))
        echo "run $i/$runs: passed in $(( $(date +%s) - start )) s: $(tail -n 1 "$LOG_DIR/run-$i.log")"
        rm -f "$LOG_DIR/run-$i.log"
    else
        echo "run $i/$runs: FAILED in $(( $(date +%s) - start )) s; output in $LOG_DIR/run-$i.log"
        grep -E "^(FAILED|ERROR)" "$LOG_DIR/run-$i.log" | head -5
    fi
done
echo "$passed of $runs runs passed with $(nproc) busy cores (load: $(cut -d' ' -f1-3 /proc/loadavg))"
[[ $passed -eq $runs ]]
