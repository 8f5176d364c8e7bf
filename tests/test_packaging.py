"""stratlog installs as one name, stratlog.*, beside PyPI's `trainer` (Coqui TTS's), which our
users already have: both import, and nothing of ours is importable as a bare `trainer`,
`sink`, `protocol` or `tui`.

A wheel is built from this checkout and installed into a fresh venv; the dependencies (torch,
transformers, and PyPI's `trainer` with its tensorboard, all pinned in the lock as dev extras)
come from the project's .venv through a plain path entry, so the test needs no network and the
checkout is not on the path. Run: ./run-tests tests/test_packaging.py (about 5 s).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """
import importlib, importlib.util, json, pkgutil
import stratlog, trainer
modules = [m.name for m in pkgutil.walk_packages(stratlog.__path__, "stratlog.")]
for name in modules:
    importlib.import_module(name)
print(json.dumps({
    "stratlog": stratlog.__file__,
    "modules": modules,
    "trainer": trainer.__file__,
    "trainer_version": trainer.__version__,
    "coqui_trainer_class": hasattr(trainer, "Trainer"),
    "bare": {name: getattr(importlib.util.find_spec(name), "origin", None) for name in ("sink", "protocol", "tui")},
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(venv python, wheel) with our wheel installed into a fresh venv."""
    folder = tmp_path_factory.mktemp("packaging")
    source = folder / "source"  # a copy of the tree, so no stale build/ folder can fill gaps in the wheel
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(folder / "dist"), str(source)], check=True)
    wheel = next((folder / "dist").glob("stratlog-*.whl"))
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    venv_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                    capture_output=True, text=True, check=True).stdout.strip())
    # A plain path line: the locked packages become importable, but the .pth files there (our
    # editable install's finder among them) are not run.
    (venv_site / "locked-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True)
    return python, wheel


def test_the_wheel_holds_only_stratlog(installed):
    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    top_levels = {name.split("/")[0] for name in names}
    assert {top for top in top_levels if not top.endswith(".dist-info")} == {"stratlog"}
    assert "stratlog/tui/dashboard.tcss" in names  # package data travels
    assert "stratlog/trainer/train_v2_ddp.py" in names


def test_stratlog_and_pypis_trainer_both_import(installed, tmp_path):
    python, _ = installed
    result = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert Path(report["stratlog"]).is_relative_to(python.parent.parent)  # the wheel, not this checkout
    expected = {"stratlog.cli", "stratlog.protocol.codec", "stratlog.trainer.train_v2_ddp",
                "stratlog.trainer.strategic.callbacks", "stratlog.sink.pipeline", "stratlog.tui.app"}
    assert expected <= set(report["modules"])
    # `import trainer` is Coqui's, never ours; the other bare names are nobody's
    assert Path(report["trainer"]).is_relative_to(sysconfig.get_paths()["purelib"])
    assert report["coqui_trainer_class"] and Version(report["trainer_version"]) >= Version("0.0.36")
    assert report["bare"] == {"sink": None, "protocol": None, "tui": None}


def test_the_console_command_runs_from_the_wheel(installed, tmp_path):
    python, _ = installed
    result = subprocess.run([str(python.parent / "stratlog"), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "replay" in result.stdout
