"""SubmitPanel headless: inputs drive a live estimate; Submit is guarded by the budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    # said once, next to the budget field, which is highlighted; nowhere else on the page
    assert "exceeds the budget" in panel.messages["budget"].value
    assert "gb-invalid" in panel.budget._dom_classes
    assert "exceeds the budget" not in panel.estimate_html.value
    assert "exceeds the budget" not in panel.status.value
    assert "over budget" in panel.estimate_html.value  # the estimate's badge, in red
    panel.budget.value = 0.0  # no budget
    assert not panel.submit_button.disabled
    assert "gb-invalid" not in panel.budget._dom_classes
    assert not panel.messages["budget"].value
    assert "0 = no budget" in panel.budget_hint.value


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
    assert "not valid JSON" in panel.messages["schema"].value
    assert "gb-invalid" in panel.schema._dom_classes
    shown = [m.value for m in panel.messages.values()] + [panel.status.value, panel.estimate_html.value]
    assert sum("not valid JSON" in v for v in shown) == 1  # one message per problem
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


def test_a_prompt_problem_is_shown_once_under_the_prompt_without_pydantic_noise(articles: pd.DataFrame):
    panel = SubmitPanel(articles)
    panel.prompt.value = "Summarise {txt}"
    message = panel.messages["prompt"].value
    assert "{txt}" in message
    assert "validation error" not in message
    assert "[type=" not in message
    assert "gb-invalid" in panel.prompt._dom_classes
    assert all(not m.value for name, m in panel.messages.items() if name != "prompt")
    panel.prompt.value = "Summarise {text}"
    assert not panel.messages["prompt"].value
    assert "gb-invalid" not in panel.prompt._dom_classes


def test_expected_output_tokens_drive_the_estimate_and_the_preview_shows_the_request(articles: pd.DataFrame):
    panel = SubmitPanel(articles, prompt="Headline for: {text}")
    panel.expected_output.value = 10
    small = panel.summary.output_tokens
    panel.expected_output.value = 1000
    assert panel.summary.output_tokens > small
    assert panel.summary.output_tokens == 1000 * len(articles)
    preview = panel.request_preview.value
    assert "first request" in preview
    assert "Headline for:" in preview
    assert "batch duration" in panel.estimate_html.value
    assert "p90" in str(panel.summary.fields()["batch duration"])


def test_the_form_locks_after_submit_and_new_run_unlocks_it(
    tmp_path: Path, articles: pd.DataFrame, emulator: Any
):
    panel = SubmitPanel(articles, run_dir=tmp_path / "run", client=emulator.client(), monitor_interval=0.2)
    assert panel.submit_button.layout.width == "140px"  # a fixed width, never squeezed to "S…"
    monitor = panel.submit()
    try:
        assert panel.prompt.disabled
        assert panel.model.disabled
        assert panel.budget.disabled
        assert panel.new_run_button.layout.display != "none"
        panel.new_run_button.click()
        assert not panel.prompt.disabled
        assert panel.run is None
        assert panel.run_dir.value == f"{tmp_path / 'run'}-2"  # a new directory: not a reopen
        assert not panel.submit_button.disabled
    finally:
        monitor.stop()
        monitor.run.stop()
