#!/usr/bin/env bash
# Early warning, not part of .ci/run: installs the newest releases that pyproject.toml's ranges
# allow into a throwaway venv and runs the fast tests there, so a release that breaks us is seen
# before a user installs it. torch==2.13.0 (the CPU build on this machine's disk) goes first so
# the resolver never starts from a CUDA build; the eager upgrade then takes the newest torch
# within range that this machine's package sources hold (2.14.1 on 2026-12-01).
# Prints which packages are newer than requirements/lock.txt. Extra flags go to pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==2.13.0"
python -m pip install --quiet --upgrade --upgrade-strategy eager -e "$root[dev]"
echo "newer than requirements/lock.txt:"
python - "$root/requirements/lock.txt" <<'PY'
import re, sys
from importlib.metadata import distributions
locked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", open(sys.argv[1]).read(), re.M))
locked = {name.lower().replace("_", "-"): version for name, version in locked.items()}
for dist in sorted(distributions(), key=lambda d: d.metadata["Name"].lower()):
    name = dist.metadata["Name"].lower().replace("_", "-")
    if name in locked and locked[name] != dist.version:
        print(f"  {name}: locked {locked[name]}, newest allowed {dist.version}")
PY
cd "$root"
python -m pytest -m "not slow" -q -p no:cacheprovider "$@"
