"""SubmitPanel headless: inputs drive a live estimate; Submit is guarded by the budget."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from gembatch_widgets import SubmitPanel

import gembatch as gb


def test_estimate_updates_when_inputs_change(articles: pd.DataFrame):
    panel = SubmitPanel(articles, model="gemini-2.5-flash-lite")
    first = panel.summary
    assert first.articles == 12
    assert first.batch_usd
    assert first.realtime_usd
    assert first.realtime_usd > first.batch_usd
    assert first.chunks
    assert first.waves
    html_before = panel.estimate_html.value

    panel.model.value = "gemini-2.5-pro"
    assert panel.summary.batch_usd > first.batch_usd
    assert panel.estimate_html.value != html_before

    tokens_before = panel.summary.input_tokens
    panel.prompt.value = "Summarise this article in three bullet points, for a busy reader:\n\n{text}"
    assert panel.summary.input_tokens > tokens_before


def test_submit_is_disabled_while_the_estimate_exceeds_the_budget(articles: pd.DataFrame):
    panel = SubmitPanel(articles, budget_usd=100.0)
    assert not panel.submit_button.disabled
    panel.budget.value = 1e-6
    assert panel.submit_button.disabled
    assert "exceeds the budget" in panel.submit_button.tooltip
    assert "exceeds the budget" in panel.estimate_html.value
    panel.budget.value = 0.0  # no budget
    assert not panel.submit_button.disabled


def test_realtime_mode_prices_realtime(articles: pd.DataFrame):
    panel = SubmitPanel(articles)
    panel.budget.value = (panel.summary.batch_usd + panel.summary.realtime_usd) / 2
    assert not panel.submit_button.disabled
    panel.mode.value = "realtime"
    assert panel.submit_button.disabled
    assert "real-time" in panel.estimate_html.value


def test_bad_schema_blocks_submit_with_a_reason(articles: pd.DataFrame):
    panel = SubmitPanel(articles)
    panel.schema.value = "{not json"
    assert panel.submit_button.disabled
    assert "not valid JSON" in panel.status.value
    panel.schema.value = json.dumps({"type": "object", "properties": {"topic": {"type": "string"}}})
    assert not panel.submit_button.disabled


def test_input_from_a_file_path(tmp_path: Path, articles: pd.DataFrame):
    path = tmp_path / "articles.jsonl"
    articles.reset_index().to_json(path, orient="records", lines=True)
    panel = SubmitPanel()
    assert panel.submit_button.disabled
    panel.source.value = str(path)
    assert panel.articles is not None
    assert len(panel.articles) == 12
    assert "articles.jsonl" in panel.snapshot_text()
    assert not panel.submit_button.disabled
    panel.source.value = str(tmp_path / "missing.jsonl")
    assert panel.submit_button.disabled


def test_submit_from_code_refuses_a_plan_over_budget(articles: pd.DataFrame):
    panel = SubmitPanel(articles, budget_usd=1e-6)
    with pytest.raises(gb.BudgetExceeded, match="exceeds the budget"):
        panel.submit()
    assert panel.run is None
    panel.submit_button.click()  # the button reports instead of raising
    assert "exceeds the budget" in panel.status.value
