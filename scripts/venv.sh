# shellcheck shell=bash
# Shared environment setup for ./studio and ./check. Source it; do not run it.
#
# Creates $VENV (default: <repo>/.venv) with Python 3.11+, installs the exact
# pins from requirements.txt plus this project (editable), and skips all of
# that when nothing relevant changed since the last successful install.
#
# Knobs:
#   PYTHON=/path/to/python3.11   interpreter used to create the venv
#   MICROGRAD_VENV=/path         venv location (default <repo>/.venv)
#   MICROGRAD_REINSTALL=1        force reinstall even if the stamp matches

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MICROGRAD_VENV:-$REPO_ROOT/.venv}"
STAMP="$VENV/.installed-stamp"

_mg_die() { echo "scripts/venv.sh: $*" >&2; exit 1; }

_mg_is_py311plus() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

_mg_find_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        _mg_is_py311plus "$PYTHON" || _mg_die "PYTHON=$PYTHON is not Python >= 3.11"
        echo "$PYTHON"; return
    fi
    local cand
    for cand in python3.11 /usr/bin/python3.11 python3 /usr/bin/python3; do
        if command -v "$cand" >/dev/null 2>&1 && _mg_is_py311plus "$cand"; then
            echo "$cand"; return
        fi
    done
    _mg_die "no Python >= 3.11 found (set PYTHON=...; on Debian: apt-get install python3.11 python3.11-venv)"
}

# Everything that should trigger a reinstall when it changes. The presence of
# the top-level packages matters too: a setuptools editable install of a flat
# layout only maps packages that existed at install time.
_mg_stamp_value() {
    {
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
        cat "$REPO_ROOT/requirements.txt" "$REPO_ROOT/pyproject.toml" "$REPO_ROOT/scripts/venv.sh"
        for pkg in micrograd microgradgui; do
            if [[ -f "$REPO_ROOT/$pkg/__init__.py" ]]; then echo "pkg:$pkg"; fi
        done
    } | sha256sum | cut -d' ' -f1
}

mg_ensure_venv() {
    if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
        local py
        py="$(_mg_find_python)"
        echo "==> creating virtualenv $VENV with $py ($("$py" --version 2>&1))" >&2
        rm -rf "$VENV"
        "$py" -m venv "$VENV" || _mg_die "'$py -m venv' failed (on Debian: apt-get install python3.11-venv)"
    fi

    local want
    want="$(_mg_stamp_value)"
    if [[ "${MICROGRAD_REINSTALL:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
        return 0
    fi

    echo "==> installing pinned requirements and micrograd-studio into $VENV" >&2
    rm -f "$STAMP"
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    "$VENV/bin/python" -m pip install --quiet -r "$REPO_ROOT/requirements.txt" </dev/null
    # --no-deps: runtime deps are already satisfied by the exact pins above.
    "$VENV/bin/python" -m pip install --quiet --no-deps -e "$REPO_ROOT" </dev/null
    echo "$want" > "$STAMP"
}

# shellcheck source=scripts/qt-libs.sh
source "$REPO_ROOT/scripts/qt-libs.sh"
mg_ensure_qt_libs || _mg_die "missing Qt system libraries (see above)"
mg_ensure_venv
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
