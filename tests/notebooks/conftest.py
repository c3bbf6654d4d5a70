"""Execute the notebooks once per session with papermill (a sentinel API key set) and share the artefacts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from nbsupport import ARTIFACTS, NOTEBOOKS, SENTINEL, Executed, execute

EXPLICIT: dict[str, dict[str, Any]] = {
    "00_quickstart.ipynb": {
        "n_articles": 10,
        "run_dir": "runs/quickstart",
        "backend": "emulator",
        "emulator_speed": 20000.0,
        "display_mode": "auto",
        "max_wait_s": 300.0,
    },
    "10_medium_1k.ipynb": {
        "n_articles": 1000,
        "run_dir": "runs/medium-1k",
        "backend": "emulator",
        "emulator_speed": 50000.0,
        "emulator_profile": "realistic",
        "display_mode": "static",
        "max_wait_s": 600.0,
    },
    "20_runbook_12k.ipynb": {
        "input_path": "",
        "n_synthetic": 12000,
        "run_dir": "runs/12k",
        "model": "gemini-2.5-flash-lite",
        "tier": "tier1",
        "policy": "rolling",
        "mode": "batch",
        "max_wait_s": 0.0,
        "backend": "emulator",
        "emulator_speed": 100000.0,
        "emulator_profile": "calm",
        "display_mode": "auto",
    },
    "30_results_analysis.ipynb": {
        "results_path": "",
        "example_run_dir": "runs/analysis-example",
        "example_articles": 200,
        "emulator_speed": 50000.0,
    },
    "40_cost_planner.ipynb": {
        "n_synthetic": 2000,
        "models": ["gemini-2.5-flash-lite", "gemini-2.5-flash"],
        "tiers": ["tier1", "tier2"],
        "policies": ["rolling", "waves"],
    },
}

REALTIME: dict[str, Any] = {
    "n_synthetic": 150,
    "run_dir": "runs/realtime",
    "mode": "realtime",
    "backend": "emulator",
    "emulator_speed": 100000.0,
    "display_mode": "static",
}


def _file_inputs(root: Path) -> dict[str, Any]:
    """A small input file, a prompt file and a JSON schema for the runbook's file parameters."""
    import gembatch as gb
    from gembatch.inputs.datasets import write_articles

    data = gb.synthetic_articles(40, mean_chars=1500, seed=5).rename(columns={"id": "doc", "text": "body"})
    write_articles(data, root / "inputs" / "articles.jsonl")
    (root / "inputs" / "prompt.txt").write_text("Title: {title}\n\nClassify this article:\n{text}\n")
    schema = {
        "type": "OBJECT",
        "properties": {
            "topic": {"type": "STRING"},
            "urgent": {"type": "BOOLEAN"},
        },
        "required": ["topic", "urgent"],
    }
    (root / "inputs" / "schema.json").write_text(json.dumps(schema))
    return {
        "input_path": "inputs/articles.jsonl",
        "id_col": "doc",
        "text_col": "body",
        "prompt_file": "inputs/prompt.txt",
        "schema": "inputs/schema.json",
        "run_dir": "runs/from-file",
        "policy": "waves",
        "chunk_tokens": 5000,
        "backend": "emulator",
        "emulator_speed": 50000.0,
        "display_mode": "static",
    }


@pytest.fixture(scope="session")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    """Every notebook executed once, in one directory, with a sentinel API key in the environment."""
    root = tmp_path_factory.mktemp("notebooks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GEMINI_API_KEY", SENTINEL)
        mp.setenv("GOOGLE_API_KEY", SENTINEL)
        for name in NOTEBOOKS:
            execute(NOTEBOOKS[name], root / f"executed-{name}", EXPLICIT[name], cwd=root)
        execute(
            NOTEBOOKS["20_runbook_12k.ipynb"],
            root / "executed-runbook-from-file.ipynb",
            _file_inputs(root),
            cwd=root,
        )
        execute(
            NOTEBOOKS["20_runbook_12k.ipynb"],
            root / "executed-runbook-realtime.ipynb",
            REALTIME,
            cwd=root,
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for out in root.glob("executed-*.ipynb"):
        shutil.copy(out, ARTIFACTS / out.name)
    return Executed(root)
