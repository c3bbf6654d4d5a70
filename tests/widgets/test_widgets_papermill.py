"""The fixture notebook under papermill: the executed file keeps a correct snapshot of the end state."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "panels.ipynb"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "widgets"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _panel_output(nb: Any) -> dict[str, Any]:
    """The display_data of the cell that shows the SubmitPanel (the one ending in ``panel``)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip().endswith("\npanel"):
            (output,) = [o for o in cell.outputs if o.output_type == "display_data"]
            return dict(output["data"])
    raise AssertionError("the fixture notebook has no panel cell")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["auto", "static"])
def test_papermill_keeps_the_final_snapshot(tmp_path: Path, mode: str):
    out = tmp_path / f"panels-{mode}.ipynb"
    papermill.execute_notebook(
        str(FIXTURE),
        str(out),
        parameters={"auto_submit": True, "display_mode": mode, "run_dir": str(tmp_path / "run")},
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(out, ARTIFACTS / out.name)
    data = _panel_output(nbformat.read(out, as_version=4))
    html, text = data["text/html"], data["text/plain"]
    # the output shown when the cell ran was replaced by the end state (display-handle update)
    assert "gb-state-done" in html
    assert "12 / 12 done" in text
    assert "data:image/png;base64," in html
    assert "<script" not in html
    assert len(html) < 400_000
    # no front end under papermill: no widget view, which nbconvert would export as an empty cell
    assert WIDGET_MIME not in data
