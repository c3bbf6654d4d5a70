"""`make demo`'s light install and its closing block (outcome, articles, emulated cost, duration,
files; a re-run says it reopened a finished run and submitted nothing)."""

from __future__ import annotations

import re
import time
import tomllib
from pathlib import Path

import gembatch as gb
from gembatch import runbook
from gembatch.presentation.report import write_report

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = (ROOT / "Makefile").read_text("utf-8")


def _recipe(target: str) -> tuple[str, str]:
    """(prerequisites, recipe) of a Makefile target."""
    match = re.search(rf"^{re.escape(target)}:([^\n]*)\n((?:\t[^\n]*\n|[ \t]*#[^\n]*\n)*)", MAKEFILE, re.M)
    assert match, target
    return match.group(1), match.group(2)


def test_make_demo_installs_only_what_the_demo_needs() -> None:
    prereqs, _ = _recipe("demo")
    assert "$(VENV)/.demo-installed" in prereqs
    assert "install" not in prereqs.split()
    _, light = _recipe("$(VENV)/.demo-installed")
    assert ".[notebook]" in light
    assert not re.search(r"\[(dev|test)\]", light), "the demo's install pulls dev or test tools"
    _, full = _recipe("$(VENV)/.installed")
    assert ".[dev]" in full
    assert "./widgets[test]" in full
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    names = {re.split(r"[<>=\[ ]", req)[0] for req in extras["notebook"]}
    assert {"papermill", "ipykernel"} <= names
    assert not names & {"pytest", "ruff", "mypy", "playwright"}


def test_make_demo_vertex_runs_the_same_runbook_with_a_light_install() -> None:
    prereqs, recipe = _recipe("demo-vertex")
    assert "$(VENV)/.demo-vertex-installed" in prereqs
    assert "install" not in prereqs.split()
    assert "notebooks/20_runbook_12k.ipynb" in recipe
    assert "-p backend vertex-emulator" in recipe
    assert "-p dataset $(DEMO_VERTEX_DATASET)" in recipe
    assert "gembatch.runbook $(DEMO_VERTEX_DIR)" in recipe  # the closing block
    before, light = _recipe("$(VENV)/.demo-vertex-installed")
    assert "$(VENV)/.demo-installed" in before
    assert "$(DEMO_VERTEX_DEPS)" in light
    deps = re.search(r"^DEMO_VERTEX_DEPS := (.*)$", MAKEFILE, re.M)
    assert deps
    assert deps.group(1) == '-e ".[notebook,vertex]"'
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    names = {re.split(r"[<>=\[ ]", req)[0] for req in extras["vertex"]}
    assert "google-cloud-storage" in names
    assert not names & {"pytest", "ruff", "mypy", "playwright"}


def test_closing_block_of_a_first_run_and_of_a_rerun(tmp_path: Path) -> None:
    run_dir = tmp_path / "demo"
    started = time.time()
    state = run_dir / runbook.EMULATOR_STATE
    client = runbook.connect_backend("emulator", emulator_speed=50_000, state_dir=state)
    request = gb.RunRequest(inputs=gb.synthetic_articles(6, mean_chars=400), id_col="id",
                            model="gemini-3.5-flash-lite")  # fmt: skip
    run = request.plan_and_create(run_dir, client=client)
    assert run.wait(timeout=120, progress=False)
    write_report(run, backend=gb.describe(client))

    first = runbook.closing_block(run_dir, since=started)
    assert "outcome:   done: every article succeeded" in first
    assert "articles:  6 ok, 0 failed, 0 pending (of 6)" in first
    assert "(emulated: what Gemini would charge; nothing was spent)" in first
    assert "duration:  " in first
    assert "results.parquet" in first
    assert "summary.json" in first
    assert "reopened" not in first

    again = time.time()
    reopened = request.plan_and_create(run_dir, client=client)
    assert reopened.wait(timeout=30, progress=False)
    second = runbook.closing_block(run_dir, since=again)
    assert f"reopened:  the finished run in {run_dir}; nothing submitted this time" in second
    assert runbook._main([str(tmp_path / "nothing")]) == 2
