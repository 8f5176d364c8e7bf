"""protocol/ stays light and safe: no torch, no textual, and never pickle.

The import check runs in a fresh interpreter, since this test process may already hold torch
through other test modules.

Run: python -m pytest tests/protocol/test_no_heavy_imports.py -q
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from stratlog import protocol

PACKAGE_DIR = Path(protocol.__file__).resolve().parent
FORBIDDEN_MODULES = ("torch", "textual", "transformers", "stratlog.sink", "stratlog.trainer", "stratlog.tui")
UNSAFE_SERIALIZERS = {"pickle", "cPickle", "dill", "marshal", "shelve", "msgpack_numpy", "joblib"}

_PROBE = """
import importlib, json, pkgutil, sys
from stratlog import protocol
names = sorted(m.name for m in pkgutil.walk_packages(protocol.__path__, "stratlog.protocol."))
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


def test_importing_every_protocol_module_loads_no_heavy_package() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE_DIR.parent,
    )
    report = json.loads(result.stdout)
    assert len(report["imported"]) >= 10  # every module really was imported
    forbidden = [name for name in report["loaded"] if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_MODULES)]
    assert not forbidden, forbidden


def test_no_protocol_module_imports_an_unsafe_serializer() -> None:
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & UNSAFE_SERIALIZERS, f"{path.name}:{node.lineno} imports {roots}"
