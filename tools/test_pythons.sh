#!/bin/sh
# `make test-pythons`: the course on every Python students have. For each version, a venv of its own
# (build/py<version>/, reinstalled when pyproject.toml or constraints.txt change) with the pinned packages,
# then the fast tests (pytest -m "not slow") and one lecture notebook under nbval, compared with its
# stored outputs.
# Usage: tools/test_pythons.sh [VERSION...]   (default: 3.11 3.12 3.13; python<VERSION> on PATH or in pyenv)
set -eu
cd "$(dirname "$0")/.."
LECTURE=notebooks/01_gradcam_part1_model_internals.ipynb
status=0

# python<VERSION> on PATH if it runs (a pyenv shim may exist and refuse), else pyenv's own copy.
find_python() {
    for candidate in "$(command -v "python$1" || true)" "$(pyenv root 2>/dev/null)"/versions/"$1"*/bin/"python$1"; do
        if [ -x "$candidate" ] && "$candidate" -c "import sys" >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
for version in ${*:-3.11 3.12 3.13}; do
    python=$(find_python "$version") || { echo "== Python $version: python$version not found"; status=1; continue; }
    venv="build/py$version"
    # reinstall when the pins change (the stamp holds the SHA-256 of pyproject.toml and constraints.txt)
    pins=$(cat pyproject.toml constraints.txt | sha256sum | cut -d" " -f1)
    if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$pins" ]; then
        echo "== Python $version: installing the pinned packages into $venv (a few minutes)"
        [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -c constraints.txt -e ".[test]"
        echo "$pins" > "$venv/.installed"
    fi
    echo "== Python $version: $("$venv/bin/python" --version)"
    if "$venv/bin/python" -m pytest -p no:cacheprovider -q -m "not slow" tests \
        && "$venv/bin/python" -m pytest -p no:cacheprovider -q "$LECTURE"; then
        echo "== Python $version: passed"
    else
        echo "== Python $version: FAILED"
        status=1
    fi
done
exit $status
