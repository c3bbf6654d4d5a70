"""The helpers the notebooks call: gembatch.runbook, presentation.report, planning.forecast."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import gembatch as gb
from gembatch import runbook
from gembatch.planning import forecast
from gembatch.presentation import report
from gembatch.runs.summary import RunSummary

MODEL = "gemini-2.5-flash-lite"


@pytest.fixture(scope="module")
def articles() -> pd.DataFrame:
    return gb.read_articles(gb.synthetic_articles(400, mean_chars=3000, seed=2), "id")


def test_forecast_batch_rolling_waves_and_realtime(articles: pd.DataFrame):
    cat = gb.load_catalog({MODEL: {"enqueued_tokens": {"tier1": 300_000}}})
    rolling = gb.plan(articles, MODEL, catalog=cat, policy="rolling", chunk_tokens=50_000)
    waves = gb.plan(articles, MODEL, catalog=cat, policy="waves", chunk_tokens=50_000)
    r, w = forecast.forecast(rolling), forecast.forecast(waves)
    assert r.limit == "the enqueued-token quota"
    assert r.rounds == pytest.approx(rolling.chunks["est_tokens"].sum() / rolling.cap_tokens)
    assert w.rounds == len(waves.waves)
    assert 0 < r.p50_s <= w.p50_s
    assert r.p50_s <= r.p90_s
    rt = forecast.forecast(rolling, "realtime")
    assert rt.mode == "realtime"
    assert rt.p50_s > 0
    assert "TPM" in rt.limit or "RPM" in rt.limit
    assert json.dumps(r.to_dict())
    assert "bounded by" in str(r)


def test_compare_one_row_per_combination(articles: pd.DataFrame):
    table = forecast.compare(articles, [MODEL, "gemini-2.5-flash"], ["tier1", "tier2"], ["rolling", "waves"])
    assert len(table) == 8
    assert {"batch_cost_usd", "realtime_cost_usd", "batch_p50_h", "realtime_h", "bound_by"} <= set(table)
    assert (table["realtime_cost_usd"] > table["batch_cost_usd"]).all()
    flash = table[table["model"] == "gemini-2.5-flash"]["batch_cost_usd"]
    lite = table[table["model"] == MODEL]["batch_cost_usd"]
    assert flash.min() > lite.max()


def test_failures_by_reason_groups_and_counts():
    results = pd.DataFrame(
        {
            "status": ["succeeded", "failed", "failed", "failed", "pending"],
            "error": [None, "schema: missing field", "400 INVALID_ARGUMENT bad", "schema: wrong type", None],
        },
        index=pd.Index(list("abcde"), name="article_id"),
    )
    table = report.failures_by_reason(results)
    assert table["articles"].to_dict() == {"schema": 2, "400 INVALID_ARGUMENT": 1}
    assert table.index.name == "reason"
    empty = report.failures_by_reason(results[results["status"] != "failed"])
    assert empty.empty
    assert list(empty.columns) == ["articles", "example"]


def test_tokens_table_estimated_vs_actual():
    summary = RunSummary(
        run_id="r", model=MODEL, tier="tier1", policy="rolling", mode="batch", state="done", done=True,
        articles=1, succeeded=1, failed=0, pending=0, est_input_tokens=1000, input_tokens=800,
        est_output_tokens=300, output_tokens=100, thoughts_tokens=50, cost_estimated_usd=0.01,
        cost_actual_usd=0.008,
    )  # fmt: skip
    table = report.tokens_table(summary)
    assert table.loc["output tokens (incl. thinking)", "actual"] == 150
    assert table.loc["input tokens", "actual / estimated"] == pytest.approx(0.8)


def test_load_prompt_and_schema(tmp_path: Path):
    prompt_file = tmp_path / "p.txt"
    prompt_file.write_text("Classify: {text}")
    assert runbook.load_prompt("ignored {text}", str(prompt_file)) == "Classify: {text}"
    assert runbook.load_prompt("Summarise {text}") == "Summarise {text}"
    with pytest.raises(gb.InputError, match="does not exist"):
        runbook.load_prompt("x", str(tmp_path / "missing.txt"))
    with pytest.raises(gb.InputError, match="empty"):
        runbook.load_prompt("  ")
    assert runbook.load_schema("") is None
    schema_file = tmp_path / "s.json"
    schema_file.write_text(json.dumps({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}))
    assert runbook.load_schema(str(schema_file))["type"] == "OBJECT"
    assert runbook.load_schema("gembatch.planning.plan:Plan") is gb.Plan
    with pytest.raises(gb.InputError, match=r"package\.module:Model"):
        runbook.load_schema("NoColon")
    with pytest.raises(gb.InputError, match="cannot be imported"):
        runbook.load_schema("gembatch.nothing_here:Model")


def test_load_articles_synthetic_or_file(tmp_path: Path):
    synthetic = runbook.load_articles("", synthetic=5, mean_chars=500)
    assert len(synthetic) == 5
    assert synthetic.index.name == "article_id"
    from gembatch.inputs.datasets import write_articles

    path = write_articles(gb.synthetic_articles(3, mean_chars=500), tmp_path / "a.jsonl")
    assert list(runbook.load_articles(str(path), id_col="id").index) == list(synthetic.index[:3])


def test_connect_backend_rejects_unknown_and_ignores_a_key_for_the_emulator(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(gb.BackendError, match="backend must be one of"):
        runbook.connect_backend("openai")
    monkeypatch.setenv("GEMINI_API_KEY", "sentinel-not-a-key")
    client = runbook.connect_backend("emulator", emulator_speed=50_000)
    assert gb.is_emulator(client)
    assert "sentinel" not in gb.describe(client)


def test_create_run_checks_mode_and_resumes(tmp_path: Path, articles: pd.DataFrame):
    small = articles.iloc[:20]
    plan = gb.plan(small, MODEL)
    client = runbook.connect_backend("emulator", emulator_speed=50_000, state_dir=tmp_path / "emu")
    with pytest.raises(gb.InputError, match="mode must be one of"):
        runbook.create_run(tmp_path / "run", small, plan, mode="turbo", client=client)
    run = runbook.create_run(tmp_path / "run", small, plan, client=client)
    assert run.wait(timeout=120, progress=False)
    again = runbook.create_run(tmp_path / "run", small, plan, client=client)
    assert again.run_id == run.run_id
    path = report.write_report(again, note="kept")
    data = json.loads(path.read_text())
    assert data["note"] == "kept"
    assert data["accounted"] is True
    assert data["result_rows"] == 20
    assert (tmp_path / "run" / "results.parquet").exists()
    assert data["failures_by_reason"] == {}


def test_connect_backend_uses_an_emulator_url_when_set(monkeypatch: pytest.MonkeyPatch):
    with gb.emulator.running(speed=50_000) as emu:
        monkeypatch.setenv("GEMBATCH_EMULATOR_URL", emu.base_url)
        monkeypatch.setenv("GEMINI_API_KEY", "sentinel-not-a-key")
        client = runbook.connect_backend("emulator")
        assert emu.base_url in gb.describe(client)
        assert client.models.count_tokens(model=MODEL, contents="hello there").total_tokens > 0
