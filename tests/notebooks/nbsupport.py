"""Shared by the notebook tests: where the notebooks are, the sentinel key, a papermill runner."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import papermill

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = {p.name: p for p in sorted(NOTEBOOK_DIR.glob("*.ipynb"))}
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"
SENTINEL = "sentinel-GEMINI-KEY-d41d8cd98f00b204e980"  # must never appear in any output
TIMEOUT_S = 600  # per cell


def execute(notebook: Path, out: Path, parameters: dict[str, Any], cwd: Path) -> Path:
    """Run ``notebook`` with papermill (kernel ``python3``, a per-cell timeout) into ``out``."""
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    papermill.execute_notebook(
        str(notebook),
        str(out),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(cwd),
        progress_bar=False,
        execution_timeout=TIMEOUT_S,
    )
    return out
