"""Every committed notebook: kernelspec python3, outputs stripped, one typed `parameters` cell."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import papermill
import pytest
from nbsupport import NOTEBOOKS

EXPECTED = {
    "00_quickstart.ipynb",
    "10_medium_1k.ipynb",
    "20_runbook_12k.ipynb",
    "30_results_analysis.ipynb",
    "40_cost_planner.ipynb",
}
RUNBOOK_PARAMETERS = {
    "input_path", "run_dir", "model", "tier", "prompt", "prompt_file", "schema", "policy", "mode",
    "budget_usd", "max_wait_s", "backend", "emulator_speed", "emulator_profile", "display_mode",
}  # fmt: skip


def test_the_notebooks_exist():
    assert set(NOTEBOOKS) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_kernelspec_and_stripped_outputs(name: str):
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: outputs not stripped in {cell.source[:60]!r}"
            assert cell.execution_count is None, f"{name}: execution count left in {cell.source[:60]!r}"
    assert "papermill" not in nb.metadata, f"{name} is an executed notebook, not the source"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_typed_commented_parameters_cell(name: str):
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: {len(tagged)} cells tagged parameters"
    source = tagged[0].source
    tree = ast.parse(source)
    assert tree.body, f"{name}: empty parameters cell"
    for stmt in tree.body:  # assignments only, each typed
        assert isinstance(stmt, ast.AnnAssign), f"{name}: not a typed assignment: {ast.unparse(stmt)}"
    for line in source.splitlines():
        assert "#" in line, f"{name}: parameter without a comment: {line!r}"
    params = papermill.inspect_notebook(str(NOTEBOOKS[name]))
    names = {ast.unparse(s.target) for s in tree.body if isinstance(s, ast.AnnAssign)}
    assert set(params) == names, f"{name}: papermill cannot read {names - set(params)} (an '=' in a comment?)"
    for pname, info in params.items():
        assert info["inferred_type_name"] not in ("None", ""), f"{name}: {pname} has no type"
        assert info["help"], f"{name}: {pname} has no comment"
    assert "display" not in params, "a parameter named display would shadow IPython's display()"


def test_runbook_parameters_cover_the_issue():
    params = papermill.inspect_notebook(str(NOTEBOOKS["20_runbook_12k.ipynb"]))
    assert set(params) >= RUNBOOK_PARAMETERS
    assert params["mode"]["default"] == '"batch"'
    assert params["backend"]["default"] == '"emulator"'  # defaults run offline on the emulator
    assert params["input_path"]["default"] == '""'  # "" = the synthetic 12k set


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_cell_raises_on_purpose_or_prints_keys(name: str):
    text = Path(NOTEBOOKS[name]).read_text()
    nb = nbformat.read(NOTEBOOKS[name], as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "raise " not in cell.source
            assert "raises-exception" not in cell.metadata.get("tags", [])
    assert 'os.environ["GEMINI_API_KEY"]' not in text
    assert "print(api_key" not in text
