"""The 12k runbook on the Vertex transport: the local emulator and fake-gcs-server in the kernel's process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nbsupport import NOTEBOOKS, execute

pytest.importorskip("google.cloud.storage", reason="the vertex extra is not installed")

MODEL = "gemini-3.5-flash-lite"
PARAMS = {
    "n_synthetic": 300,
    "model": MODEL,
    "run_dir": "runs/vertex",
    "backend": "vertex-emulator",
    "emulator_speed": 20000.0,
    "chunk_tokens": 300_000,  # a few jobs, each within the emulator's enqueued-token quota
    "display_mode": "static",
}


def test_runbook_on_vertex_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from gembatch.planning.learned_limits import LIMITS_FILE_VAR, set_limits
    from gembatch.planning.vertex_limits import vertex_catalog
    from gembatch.runbook import closing_block

    # a limit the Developer API taught this machine's emulator project: a Vertex plan must not take it
    monkeypatch.setenv(LIMITS_FILE_VAR, str(tmp_path / "limits.json"))
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    set_limits(MODEL, project="auto", tier="tier1", enqueued_tokens=1_234_567)

    out = execute(NOTEBOOKS["20_runbook_12k.ipynb"], tmp_path / "vertex.ipynb", PARAMS, cwd=tmp_path)
    run_dir = tmp_path / "runs" / "vertex"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["finished"] is True
    assert summary["articles"] == 300
    assert summary["succeeded"] == 300
    assert summary["failed"] == 0
    assert summary["pending"] == 0
    assert summary["backend"].startswith("Vertex AI emulator")
    left = summary["left_in_storage"]
    assert left["where"].startswith("gs://")
    assert left["where"].endswith("/")
    assert left["objects"] == 0
    # planned with Vertex's limits, not the enqueued-token quota learned for the Developer API
    assert summary["quota_tokens"] == vertex_catalog().get(MODEL).enqueued_limit("tier1")
    text = "".join(
        "".join(o.get("text", "")) for c in json.loads(out.read_text())["cells"] for o in c.get("outputs", [])
    )
    assert "1,234,567" not in text
    assert f"0 object(s) in {left['where']}" in text

    block = closing_block(run_dir)
    assert "every article succeeded" in block
    assert f"storage:   0 object(s) left in {left['where']}" in block
