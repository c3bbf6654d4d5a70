"""Notebooks executed with papermill on the emulator: complete artefacts, no article lost, no key leaked."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbsupport import SENTINEL, Executed

pytestmark = pytest.mark.slow

SUMMARY_FIGURES = (
    "run_id", "articles", "succeeded", "failed", "pending", "accounted", "result_rows", "done",
    "cost_estimated_usd", "cost_actual_usd", "cost", "tokens", "failures_by_reason", "chunks",
    "backend", "mode", "forecast", "results_path",
)  # fmt: skip


def _errors(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [
        o["ename"] for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]


def _text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(json.dumps(out.get("data", {})))
    return "\n".join(parts)


@pytest.mark.parametrize(
    "name",
    [
        "00_quickstart",
        "10_medium_1k",
        "20_runbook_12k",
        "30_results_analysis",
        "40_cost_planner",
        "runbook-from-file",
    ],
)
def test_notebook_executes_without_errors(executed: Executed, name: str):
    path = executed.notebook(f"{name}.ipynb")
    assert path.exists()
    assert _errors(path) == []
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["papermill"]["parameters"], "papermill received explicit parameters"


def test_runbook_12k_artefacts(executed: Executed):
    run_dir = executed.run_dir("runs/12k")
    results = pd.read_parquet(run_dir / "results.parquet")
    articles = pd.read_parquet(run_dir / "articles.parquet")
    assert len(results) == len(articles) == 12_000
    assert results.index.is_unique
    assert set(results.index) == set(articles.index), "no article unaccounted"
    assert (results["status"].astype(str) == "succeeded").all()  # calm profile: nothing fails
    summary = executed.summary("runs/12k")
    for key in SUMMARY_FIGURES:
        assert key in summary, f"summary.json lacks {key}"
    assert summary["accounted"] is True
    assert summary["done"] is True
    assert summary["finished"] is True
    assert summary["articles"] == summary["result_rows"] == summary["succeeded"] == 12_000
    assert summary["pending"] == 0
    assert summary["cost"]["actual_usd"] > 0
    assert summary["cost"]["estimated_usd"] >= summary["cost"]["actual_usd"]  # conservative estimate
    assert summary["tokens"]["input"]["actual"] > 0
    assert summary["mode"] == "batch"
    assert "emulator" in summary["backend"]
    assert summary["forecast"]["p50_s"] > 0
    text = _text(executed.notebook("20_runbook_12k.ipynb"))
    assert "image/png" in text, "the charts are in the executed notebook"
    assert "12,000 / 12,000 done" in text, "the monitor's final snapshot is kept"


def test_runbook_from_file_with_prompt_file_and_schema(executed: Executed):
    results = pd.read_parquet(executed.run_dir("runs/from-file") / "results.parquet")
    assert len(results) == 40
    assert list(results.index[:2]) == ["a00000", "a00001"]  # ids from id_col="doc"
    assert {"topic", "urgent"} <= set(results.columns)  # the JSON schema's fields, parsed
    assert results["status"].astype(str).eq("succeeded").all()
    summary = executed.summary("runs/from-file")
    assert summary["policy"] == "waves"
    assert summary["accounted"] is True


def test_runbook_in_realtime_mode(executed: Executed):
    results = pd.read_parquet(executed.run_dir("runs/realtime") / "results.parquet")
    assert len(results) == 150
    assert results["status"].astype(str).eq("succeeded").all()
    summary = executed.summary("runs/realtime")
    assert summary["mode"] == "realtime"
    assert summary["forecast"]["mode"] == "realtime"
    assert summary["accounted"] is True


def test_quickstart_and_medium_results(executed: Executed):
    quick = executed.notebook("00_quickstart.ipynb")
    assert "10 succeeded" in _text(quick)
    medium = _text(executed.notebook("10_medium_1k.ipynb"))
    assert "sentiment" in medium
    assert "decision_made" in medium
    assert "1,000 / 1,000 done" in medium or "1000 / 1000 done" in medium


def test_analysis_and_planner_outputs(executed: Executed):
    analysis = _text(executed.notebook("30_results_analysis.ipynb"))
    assert "200 results from" in analysis
    assert analysis.count("image/png") >= 2
    planner = _text(executed.notebook("40_cost_planner.ipynb"))
    assert "cheapest:" in planner
    assert "gemini-2.5-flash" in planner
    assert "image/png" in planner


def test_no_output_or_run_directory_contains_the_key(executed: Executed):
    """Every executed notebook and every file under every run directory, bytes included."""
    needle = SENTINEL.encode()
    searched = 0
    for path in executed.root.rglob("*"):
        if path.is_file() and path.parent.name != "inputs":
            searched += 1
            assert needle not in path.read_bytes(), f"the API key leaked into {path}"
    assert searched > 20
