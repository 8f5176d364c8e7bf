#!/usr/bin/env bash
# Refreshes requirements/lock.txt from pyproject.toml, the dev extras and the build backend
# included, each with its hashes. Without flags it keeps every existing pin and only follows what
# pyproject.toml changed; `scripts/lock.sh --upgrade` takes the newest versions the ranges allow,
# `--upgrade-package NAME` one package's (any pip-compile flag passes through). Run it on the project's
# machines (Python 3.11, Linux x86_64: torch's CPU wheel lies in /opt/wheels there), then run
# ./run-tests and commit pyproject.toml and the lock together.
# pip-tools runs in a throwaway venv, pinned, so the lock does not depend on what .venv holds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/python" -m pip install --quiet pip-tools==7.6.2
cd "$root"
"$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --all-build-deps \
  --extra dev --strip-extras --no-emit-find-links --no-emit-index-url \
  --constraint requirements/torch-cpu.txt --output-file requirements/lock.txt "$@" pyproject.toml
echo "requirements/lock.txt refreshed; now ./run-tests, then commit pyproject.toml and the lock"
