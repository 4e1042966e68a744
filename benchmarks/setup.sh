#!/usr/bin/env bash
# The benchmarks' reference environments, inside the repository (git-ignored):
#   benchmarks/.venvs/micrograd   Karpathy's micrograd==0.1.0 + numpy==2.4.6 (run_engine.sh)
#   benchmarks/.venvs/torch       torch==2.13.0 (CPU) + numpy==2.4.6            (bench_compiled.py)
# Usage:
#   benchmarks/setup.sh [micrograd|torch]...   # default: both; prints each venv's path
# Idempotent: an environment that exists and is healthy (Python 3.11, the pinned
# versions installed and importable) is left alone; a broken one is rebuilt.
# Env: BENCH_VENVS  where the environments go (default <repo>/benchmarks/.venvs);
#                   point it elsewhere to set up environments for another checkout
#      PYTHON       the Python 3.11 to create them with (default python3.11)
# Two packages are called `micrograd`: Karpathy's lives only in .venvs/micrograd, never
# in the project's own .venv. Torch lives only in .venvs/torch, never in the package.
# torch==2.13.0 must resolve to the CPU wheel: pip takes it from a local wheel directory
# if pip's configuration or PIP_FIND_LINKS names one, otherwise from the index.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENVS="${BENCH_VENVS:-$HERE/.venvs}"
PY="${PYTHON:-python3.11}"

pins() {  # the requirement list of one environment
    case "$1" in
        micrograd) echo "micrograd==0.1.0 numpy==2.4.6" ;;
        torch)     echo "torch==2.13.0 numpy==2.4.6" ;;
        *) echo "benchmarks/setup.sh: unknown environment '$1' (micrograd or torch)" >&2; exit 2 ;;
    esac
}

imports() {  # what must import in it (micrograd.nn: Karpathy's package, not ours)
    case "$1" in
        micrograd) echo "import micrograd.engine, micrograd.nn, numpy" ;;
        torch)     echo "import torch, numpy; assert not torch.version.cuda, 'a CUDA build of torch'" ;;
    esac
}

healthy() {  # healthy NAME: exit 0 if the venv runs Python 3.11 with exactly the pins
    local venv="$VENVS/$1"
    [ -x "$venv/bin/python" ] || return 1
    "$venv/bin/python" - $(pins "$1") >/dev/null 2>&1 <<EOF
import sys
from importlib.metadata import version
assert sys.version_info[:2] == (3, 11), sys.version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    assert version(name).split("+")[0] == want, (name, version(name), want)
$(imports "$1")
EOF
}

ensure() {
    local name="$1" venv="$VENVS/$1"
    if healthy "$name"; then
        echo "==> $venv: ok ($(pins "$name"))" >&2
        return 0
    fi
    "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
        || { echo "benchmarks/setup.sh: '$PY' is not Python 3.11 (set PYTHON=...)" >&2; exit 1; }
    if [ -e "$venv" ]; then
        echo "==> $venv: exists but is not healthy; rebuilding" >&2
        rm -rf -- "$venv"
    fi
    echo "==> $venv: creating with $("$PY" --version 2>&1), installing $(pins "$name")" >&2
    mkdir -p "$VENVS"
    "$PY" -m venv "$venv"
    # shellcheck disable=SC2046
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --quiet $(pins "$name") </dev/null
    healthy "$name" || { echo "benchmarks/setup.sh: $venv is still not healthy after installing" >&2; exit 1; }
    echo "==> $venv: ok" >&2
}

[ $# -gt 0 ] || set -- micrograd torch
for name in "$@"; do
    pins "$name" >/dev/null
    ensure "$name"
    echo "$VENVS/$name"
done
