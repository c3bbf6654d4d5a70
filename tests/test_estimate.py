"""estimate(): per-article figures, summary, batch vs real time, catalogue overrides, reprs."""

from __future__ import annotations

import numpy as np
import pytest

import gembatch as gb
from gembatch.errors import InputError, UnknownModel

CUSTOM = {
    "acme-1": {
        "as_of": "2026-11-01",
        "source": "test contract",
        "context_window": 50_000,
        "max_output_tokens": 4_096,
        "input_price": 2.0,
        "output_price": 8.0,
        "enqueued_tokens": {"tier1": 100_000},
    }
}


@pytest.fixture(scope="module")
def articles():
    return gb.read_articles(gb.synthetic_articles(40))


def test_per_article_frame_and_summary_add_up(articles):
    est = gb.estimate(articles, model="gemini-2.5-flash-lite")
    per = est.per_article
    assert list(per.columns) == [
        "input_tokens", "output_tokens", "thinking_tokens", "batch_cost_usd", "realtime_cost_usd"
    ]  # fmt: skip
    assert per.index.equals(articles.index)
    assert (per["input_tokens"] == articles["est_tokens"]).all()  # prompt is "{text}"
    assert est.input_tokens == per["input_tokens"].sum()
    assert est.output_tokens == 40 * 300
    assert est.batch_cost_usd == pytest.approx(per["batch_cost_usd"].sum())
    assert est.batch_cost_usd == pytest.approx((est.input_tokens * 0.05 + est.output_tokens * 0.20) / 1e6)
    assert est.realtime_cost_usd == pytest.approx(2 * est.batch_cost_usd)
    assert est.savings_usd == pytest.approx(est.realtime_cost_usd - est.batch_cost_usd)
    assert est.savings_pct == pytest.approx(50.0)


def test_p50_below_estimate_below_p90(articles):
    est = gb.estimate(articles, model="gemini-2.5-flash-lite")
    assert est.input_tokens_p50 < est.input_tokens <= est.input_tokens_p90
    assert est.batch_cost_usd_p50 < est.batch_cost_usd < est.batch_cost_usd_p90
    assert est.output_tokens_p90 == int(40 * 300 * 1.5)


def test_output_comes_from_the_expectation_not_max_output_tokens(articles):
    base = gb.estimate(articles, model="gemini-2.5-flash-lite", max_output_tokens=8_000)
    assert base.output_tokens == 40 * 300
    more = gb.estimate(articles, model="gemini-2.5-flash-lite", expected_output_tokens=1_000)
    assert more.output_tokens == 40_000
    capped = gb.estimate(articles, model="gemini-2.5-flash-lite", expected_output_tokens=1_000,
                         max_output_tokens=200)  # fmt: skip
    assert capped.output_tokens == 40 * 200


def test_thinking_tokens_are_billed_as_output(articles):
    plain = gb.estimate(articles, model="gemini-2.5-flash", thinking_budget=0)
    thinking = gb.estimate(articles, model="gemini-2.5-flash", thinking_budget=500)
    assert plain.thinking_tokens == 0
    assert thinking.thinking_tokens == 40 * 500
    assert thinking.batch_cost_usd - plain.batch_cost_usd == pytest.approx(40 * 500 * 1.25 / 1e6)
    # unasked, a model that thinks by default is expected to think (a dynamic budget), never 0
    unasked = gb.estimate(articles, model="gemini-2.5-flash")
    assert unasked.thinking_tokens == 40 * 1024
    assert "thinks by default" in repr(unasked)
    lite = gb.estimate(articles, model="gemini-2.5-flash-lite")
    assert lite.thinking_tokens == 0
    dynamic = gb.estimate(articles, model="gemini-2.5-flash", thinking_budget=-1, expected_thinking_tokens=50)
    assert dynamic.thinking_tokens == 40 * 50


def test_prompt_and_system_instruction_add_tokens(articles):
    base = gb.estimate(articles, model="gemini-2.5-flash-lite")
    longer = gb.estimate(articles, model="gemini-2.5-flash-lite", prompt="Summarise in one line:\n{text}",
                         system_instruction="You are a careful news editor." * 4)  # fmt: skip
    extra = len("Summarise in one line:\n") + len("You are a careful news editor.") * 4
    assert longer.input_tokens > base.input_tokens
    assert (longer.per_article["input_tokens"] - base.per_article["input_tokens"]).max() <= np.ceil(
        extra / 3.2
    ) + 1


def test_catalogue_override_changes_prices(articles):
    cat = gb.load_catalog(CUSTOM)
    est = gb.estimate(articles, model="acme-1", catalog=cat)
    assert est.model == "acme-1"
    assert est.batch_cost_usd == pytest.approx((est.input_tokens * 1.0 + est.output_tokens * 4.0) / 1e6)
    cheaper = gb.load_catalog(
        {"gemini-2.5-flash-lite": {"batch_input_price": 0.0, "batch_output_price": 0.0}}
    )
    assert gb.estimate(articles, model="gemini-2.5-flash-lite", catalog=cheaper).batch_cost_usd == 0.0


def test_long_context_prices_apply_per_request():
    arts = gb.read_articles([{"id": "short", "text": "x" * 1000}, {"id": "long", "text": "x" * 700_000}])
    est = gb.estimate(arts, model="gemini-2.5-pro", expected_output_tokens=0, expected_thinking_tokens=0)
    per = est.per_article
    assert per.loc["short", "realtime_cost_usd"] == pytest.approx(
        per.loc["short", "input_tokens"] * 1.25 / 1e6
    )
    assert per.loc["long", "realtime_cost_usd"] == pytest.approx(per.loc["long", "input_tokens"] * 2.50 / 1e6)


def test_errors(articles):
    with pytest.raises(UnknownModel, match="known models"):
        gb.estimate(articles, model="gemini-9")
    with pytest.raises(InputError, match="model is required"):
        gb.estimate(articles)
    with pytest.raises(gb.CatalogError, match="unknown tier"):
        gb.estimate(articles, model="gemini-2.5-flash-lite", tier="gold")
    tiny = gb.load_catalog({"tiny": {**CUSTOM["acme-1"], "context_window": 2_000}})
    with pytest.raises(InputError, match="context window"):
        gb.estimate(articles, model="tiny", catalog=tiny)


def test_raw_input_is_read_first():
    est = gb.estimate(["one article", "another"], model="gemini-2.5-flash-lite")
    assert est.articles == 2


def test_text_and_html_reprs_are_readable_and_escaped():
    arts = gb.read_articles(["<script>alert(1)</script> text"])
    cat = gb.load_catalog({"<b>evil</b>": CUSTOM["acme-1"]})
    est = gb.estimate(arts, model="<b>evil</b>", catalog=cat)
    text = repr(est)
    assert "batch cost" in text
    assert "real-time cost" in text
    assert "saves" in text
    page = est._repr_html_()
    assert "<b>evil</b>" not in page
    assert "&lt;b&gt;evil&lt;/b&gt;" in page
    assert len(page) < 10_000
    assert est.to_dict()["articles"] == 1
