"""What every benchmark shares: the line saying how, when and on what machine its figures were
measured, and its "## Title" section of BENCHMARKS.md, printed and, with --write, put in place of
the old one. One writer for all, so every section names its machine the same way (figures from
different machines are only comparable when they say which) and rewriting one section leaves the
others, and their order, alone. The scripts import it as a sibling (`python bench/X.py` puts
bench/ first on the path).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
from datetime import date
from importlib.metadata import version
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def machine(*packages: str) -> str:
    """CPU model and count, operating system, Python and the versions of `packages`
    (distribution names, for the libraries whose speed the figures depend on)."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        cpu = re.search(r"^Model name:\s*(.+)$", lscpu, re.M)[1].strip()
    except (OSError, subprocess.CalledProcessError, TypeError):  # no lscpu, or no model line in it
        cpu = platform.processor() or platform.machine() or "unknown CPU"
    software = ", ".join([f"Python {platform.python_version()}", *(f"{name} {version(name)}" for name in packages)])
    return f"{cpu}, {os.cpu_count()} CPUs; {platform.system()} {platform.release()}; {software}"


def measured_on(command: str, *packages: str) -> str:
    """A section's first line: the command that produced it, today's date and the machine."""
    return f"`{command}` on {date.today().isoformat()}, {machine(*packages)}"


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """A benchmark's command line, with the --write every benchmark takes."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true",
                        help="Also put the printed section in place of its old one in BENCHMARKS.md (default: print only).")
    return parser


def publish(title: str, body: str, *, write: bool) -> None:
    """Prints the "## title" section; with `write`, replaces that section of BENCHMARKS.md (or
    adds it at the end). The hand-written notes of the old section go with it."""
    section = f"## {title}\n\n{body.strip()}\n"
    print(section)
    if not write:
        return
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    old = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
    if old.search(text):
        text = old.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    BENCHMARKS.write_text(text.rstrip("\n") + "\n")
