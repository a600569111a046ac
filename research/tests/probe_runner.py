"""Run a probe the documented way, ``python -m research.<name> ...``, from the repository root."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_probe(name: str, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"research.{name}", *map(str, argv)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
