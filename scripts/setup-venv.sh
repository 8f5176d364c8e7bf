#!/usr/bin/env bash
# Sourced by ./run-demo and ./run-tests: creates .venv (once) and installs the project into it.
# torch==2.13.0 goes first: it is the CPU build on local disk here; an unpinned torch would
# pull a multi-GB CUDA build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${STRATLOG_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
stamp="$venv/.stratlog-installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet "torch==2.13.0"
  python -m pip install --quiet -e "$root[dev]"
  touch "$stamp"
fi
