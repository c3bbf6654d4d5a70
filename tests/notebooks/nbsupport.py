"""Shared by the notebook tests: where the notebooks are, the sentinel key, a papermill runner."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
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


@dataclass
class Executed:
    """Where one session's notebook executions left their files."""

    root: Path

    def notebook(self, name: str) -> Path:
        return self.root / f"executed-{name}"

    def run_dir(self, rel: str) -> Path:
        return self.root / rel

    def summary(self, rel: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / rel / "summary.json").read_text())
        return data
