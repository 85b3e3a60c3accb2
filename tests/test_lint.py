"""The source is lint-clean: ruff (pyproject's [tool.ruff] rules) over the package,
tests and benchmarks, as in CI's lint job."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_check() -> None:
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "streamcore", "tests", "bench"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
