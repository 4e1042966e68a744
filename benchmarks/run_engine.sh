#!/usr/bin/env bash
# One command: the engine benchmark, our `studio` engine side by side with Karpathy's
# micrograd 0.1.0 (with and without cyclic GC), W1-W4, fresh process per run.
#   benchmarks/run_engine.sh                 # env if missing, validate, 3 reps, results/
# Env: VENV (default benchmarks/.venvs/micrograd, made/checked by setup.sh; an explicit
#      VENV is used as it is), BENCH_DIR (<repo>/../shared/bench), REPS (3), WORKLOADS
#      (W1,W2,W3,W4; a subset for a quick check),
#      OUT (benchmarks/results), STUDIO_REPO (the checkout whose engine is measured;
#      default this one), SKIP_VALIDATE=1 to skip the loss-trajectory check (~1.5 min).
# Karpathy's package is also called `micrograd`, so it lives in its own venv; our
# runner puts the measured repository on sys.path only inside the `studio` impl.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
if [ -z "${VENV:-}" ]; then
    VENV="$("$HERE/setup.sh" micrograd)"
fi
[ -x "$VENV/bin/python" ] || { echo "run_engine.sh: no Python in VENV=$VENV" >&2; exit 1; }
export BENCH_DIR="${BENCH_DIR:-$(dirname "$REPO")/shared/bench}"
export STUDIO_REPO="${STUDIO_REPO:-$REPO}"
REPS="${REPS:-3}"
WORKLOADS="${WORKLOADS:-W1,W2,W3,W4}"
OUT="${OUT:-$HERE/results}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
PY="$VENV/bin/python"
cd "$HERE"

if [ "${SKIP_VALIDATE:-0}" != 1 ]; then
    # micrograd_nogc is micrograd's exact code (GC off): same trajectory, 8x faster on W3.
    "$PY" "$BENCH_DIR/run_all.py" --runner "$HERE/bench_engine.py" --validate --ref micrograd_nogc \
        --impls micrograd_nogc,studio --workloads W1,W2,W3 --vsteps W1=100,W2=200,W3=3 \
        | tee "$OUT/engine_validate.md"
fi

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" "$BENCH_DIR/run_all.py" --runner "$HERE/bench_engine.py" \
    --impls micrograd,micrograd_nogc,studio --workloads "$WORKLOADS" --reps "$REPS" \
    --out "$OUT/engine.json" --md "$OUT/engine.md"
{
    echo
    echo "Machine: $(nproc) cores, $(uname -r); $("$PY" -c 'import platform; print("Python", platform.python_version())');"
    echo "Load average (1/5/15 min) before the run: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)."
} >> "$OUT/engine.md"
"$PY" "$HERE/summarize_engine.py" "$OUT/engine.json" --md "$OUT/engine.md"
