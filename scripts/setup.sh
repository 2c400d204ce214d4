#!/usr/bin/env bash
# Idempotent set-up: Debian packages (when root), a .venv, torch (CPU build), the package
# in editable mode with its dev extra, and the example plugins under extensions/.
# A second run with everything in place finishes in a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="libkim-api-dev openkim-models lammps chromium"
PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.workbench-installed"

missing=""
for pkg in $APT_PACKAGES; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = "0" ]; then
        echo "==> installing Debian packages:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq $missing >/dev/null
    else
        cat >&2 <<MSG
==> Missing system packages:$missing
    Install them with:  sudo apt-get install$missing
    Without root, kim-api and the OpenKIM models are also on conda-forge:
        conda install -c conda-forge kim-api openkim-models lammps
    Continuing; features that need them will report what is missing.
MSG
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi

inputs="pyproject.toml scripts/setup.sh $(ls extensions/*/pyproject.toml 2>/dev/null || true)"
stale=0
if [ ! -f "$STAMP" ]; then stale=1; else
    for f in $inputs; do [ "$f" -nt "$STAMP" ] && stale=1; done
fi
if [ "$stale" = "1" ]; then
    echo "==> installing Python packages into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # exactly this pin: the CPU build that is on the machine; anything looser pulls CUDA wheels
    "$VENV/bin/python" -m pip install -q "torch==2.13.0"
    "$VENV/bin/python" -m pip install -q -e ".[dev]"
    for ext in extensions/*/; do
        [ -f "$ext/pyproject.toml" ] && "$VENV/bin/python" -m pip install -q -e "$ext"
    done
    touch "$STAMP"
    # compile the numba kernels once now, so the first fit starts at once (cached on disk)
    echo "==> compiling the numba kernels (workbench warmup)"
    "$VENV/bin/workbench" warmup || echo "==> warm-up failed; kernels compile on first use" >&2
fi
