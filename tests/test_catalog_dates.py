"""The current lineup, prices that change on a date, retired models, and forecasts across a change."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

import gembatch as gb
from gembatch.inputs.datasets import write_articles
from gembatch.planning.forecast import forecast

# (standard input, standard output) USD per 1M tokens, from the pricing page as transcribed 2026-10-07
LINEUP = {
    "gemini-3.5-flash": (1.50, 9.00),
    "gemini-3.5-flash-lite": (0.30, 2.50),
    "gemini-3.1-pro-preview": (2.00, 12.00),
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-embedding-2": (0.20, 0.0),
}


@pytest.fixture(scope="module")
def articles():
    return gb.read_articles(gb.synthetic_articles(40, mean_chars=2000))


@pytest.mark.parametrize(("model", "prices"), LINEUP.items())
def test_current_lineup_prices_with_batch_at_half(model, prices):
    info = gb.default_catalog().get(model, "2026-12-15")
    assert (info.input_price, info.output_price) == prices
    assert (info.batch_input_price, info.batch_output_price) == (prices[0] / 2, prices[1] / 2)
    assert info.as_of
    assert info.source
    assert not info.is_retired()


def test_long_context_tier_and_thinking_flags():
    cat = gb.default_catalog()
    pro = cat.get("gemini-3.1-pro-preview")
    assert pro.prices("realtime", 200_000) == (2.0, 12.0)
    assert pro.prices("realtime", 200_001) == (4.0, 18.0)
    assert pro.prices("batch", 300_000) == (2.0, 9.0)
    assert cat.get("gemini-3.8-flash").thinking_by_default
    assert cat.get("gemini-2.5-pro").thinking_by_default
    assert not cat.get("gemini-2.5-flash-lite").thinking_by_default
    assert "enqueued_tokens" in cat.get("gemini-3.5-flash").assumed  # not published: said so


def test_38_flash_doubles_on_2027_01_01():
    flash = gb.default_catalog().get("gemini-3.8-flash", "2026-12-31")
    assert (flash.input_price, flash.output_price) == (0.75, 3.75)
    assert (flash.prices_until, flash.billing_date) == ("2026-12-31", "2026-12-31")
    after = flash.next_prices()
    assert after is not None
    assert (after.input_price, after.output_price, after.prices_from) == (1.5, 7.5, "2027-01-01")
    assert (after.batch_input_price, after.batch_output_price) == (0.75, 3.75)
    assert after.next_prices() is None


def test_estimate_on_2026_12_31_vs_2027_01_01(articles):
    before = gb.estimate(articles, model="gemini-3.8-flash", billing_date="2026-12-31", project=None)
    after = gb.estimate(articles, model="gemini-3.8-flash", billing_date="2027-01-01", project=None)
    assert after.batch_cost_usd == pytest.approx(2 * before.batch_cost_usd)
    assert after.realtime_cost_usd == pytest.approx(2 * before.realtime_cost_usd)
    tokens = before.per_article
    billed_out = tokens["output_tokens"].sum() + tokens["thinking_tokens"].sum()  # thinking bills as output
    assert tokens["thinking_tokens"].sum() > 0  # 3.8 Flash thinks by default
    expected = (tokens["input_tokens"].sum() * 0.375 + billed_out * 1.875) / 1e6
    assert before.batch_cost_usd == pytest.approx(expected)
    assert before.summary["next_prices_from"] == "2027-01-01"
    assert before.summary["batch_cost_usd_next"] == pytest.approx(after.batch_cost_usd)
    assert "prices change on 2027-01-01 (in 1 day)" in repr(before)
    assert after.summary["next_prices_from"] is None
    assert after.summary["billing_date"] == "2027-01-01"


def test_billing_date_defaults_to_today(articles):
    import datetime as dt

    est = gb.estimate(articles, model="gemini-2.5-flash", project=None)
    assert est.summary["billing_date"] == dt.date.today().isoformat()


def test_plan_straddling_the_change_warns_before_submitting(articles):
    with pytest.warns(gb.PriceChangeWarning, match="2027-01-01") as caught:
        p = gb.plan(articles, "gemini-3.8-flash", billing_date="2026-12-31", project=None)
    assert len(caught) == 1
    assert p.billing_date == "2026-12-31"
    assert any("prices change on 2027-01-01" in w for w in p.warnings)
    assert "WARNING" in repr(p)
    assert p.to_dict()["warnings"] == list(p.warnings)
    fc = forecast(p)
    assert fc.price_change is not None
    assert "2027-01-01" in str(fc)
    assert fc.billed_until is not None
    assert fc.billed_until >= "2027-01-01"


def test_plan_well_before_the_change_notes_it_without_warning(articles):
    with warnings.catch_warnings():
        warnings.simplefilter("error", gb.GembatchWarning)
        p = gb.plan(articles, "gemini-3.8-flash", billing_date="2026-12-01", project=None)
        far = gb.plan(articles, "gemini-3.8-flash", billing_date="2026-09-01", project=None)
    assert p.warnings == ()
    assert any("2027-01-01 (in 31 days)" in n for n in p.notes)
    assert forecast(p).price_change is None
    assert far.notes == ()


def test_retired_model_names_its_successor(articles):
    with pytest.raises(gb.RetiredModel, match=r"gemini-2\.5-flash-lite") as err:
        gb.plan(articles, "gemini-2.0-flash-lite", billing_date="2026-12-01", project=None)
    assert "retired on 2026-06-01" in str(err.value)
    with pytest.raises(gb.UnknownModel, match=r"use gemini-2\.5-flash instead"):  # RetiredModel is one
        gb.estimate(articles, model="gemini-2.0-flash", billing_date="2026-06-01", project=None)
    old = gb.estimate(articles, model="gemini-2.0-flash", billing_date="2025-10-15", project=None)
    assert old.batch_cost_usd > 0  # past work still prices


def test_embedding_model_is_not_planned_as_generation(articles):
    with pytest.raises(gb.CatalogError, match="embedding model"):
        gb.estimate(articles, model="gemini-embedding-2", project=None)


def test_price_changes_from_an_override():
    cat = gb.load_catalog(
        {
            "acme-2": {
                "as_of": "2026-11-01",
                "source": "contract",
                "context_window": 32_000,
                "max_output_tokens": 8_192,
                "input_price": 1.0,
                "output_price": 4.0,
                "price_changes": [
                    {"from": "2027-06-01", "input_price": 3.0},
                    {"from": "2027-03-01", "output_price": 2.0, "batch_output_price": 0.5},
                ],
            }
        }
    )
    march = cat.get("acme-2", "2027-03-01")
    assert (march.input_price, march.output_price, march.batch_output_price) == (1.0, 2.0, 0.5)
    assert march.prices_until == "2027-05-31"
    june = cat.get("acme-2", "2027-06-15")
    assert (june.input_price, june.batch_input_price, june.output_price) == (3.0, 1.5, 2.0)
    assert june.batch_output_price == 1.0  # not stated: follows the standard price, not the old batch one
    assert cat.get("acme-2", "2026-01-01").input_price == 1.0


def test_overriding_a_price_replaces_the_schedule_and_batch_follows():
    cat = gb.load_catalog({"gemini-3.8-flash": {"input_price": 0.5}})
    for day in ("2026-12-01", "2027-02-01"):
        info = cat.get("gemini-3.8-flash", day)
        assert (info.input_price, info.batch_input_price) == (0.5, 0.25)
    assert cat.get("gemini-3.8-flash", "2027-02-01").output_price == 3.75


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"gemini-3.8-flash": {"price_changes": [{"input_price": 1.0}]}}, "needs a 'from' date"),
        ({"gemini-3.8-flash": {"price_changes": [{"from": "soon", "input_price": 1.0}]}}, "not a date"),
        ({"gemini-3.8-flash": {"price_changes": [{"from": "2027-01-01", "colour": 1}]}}, "unknown"),
        ({"tiers": {"tier1": {"spend_cap_usd_month": -5}}}, "spend_cap_usd_month"),
    ],
)
def test_bad_dated_overrides_name_the_problem(entry, message):
    with pytest.raises(gb.CatalogError, match=message):
        gb.load_catalog(entry)


def test_run_config_round_trip_keeps_the_schedule():
    import dataclasses
    import json

    info = gb.default_catalog().get("gemini-3.8-flash", "2026-12-20")
    again = gb.ModelInfo(**json.loads(json.dumps(dataclasses.asdict(info))))
    assert again.on("2027-01-02").input_price == 1.5
    legacy = {k: v for k, v in dataclasses.asdict(info).items() if k in gb.ModelInfo.__annotations__}
    for new_field in ("price_schedule", "prices_from", "prices_until", "billing_date", "assumed"):
        legacy.pop(new_field)
    assert gb.ModelInfo(**legacy).on("2027-01-02").input_price == 0.75  # old ledgers: one price


def test_cli_billing_date(tmp_path):
    data = tmp_path / "a.jsonl"
    write_articles(gb.synthetic_articles(5, mean_chars=500), data)
    out = {}
    for day in ("2026-12-31", "2027-01-01"):
        proc = subprocess.run(
            [sys.executable, "-m", "gembatch", "estimate", str(data), "--model", "gemini-3.8-flash",
             "--billing-date", day, "--json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        import json

        out[day] = json.loads(proc.stdout)
    assert out["2027-01-01"]["batch_cost_usd"] == pytest.approx(2 * out["2026-12-31"]["batch_cost_usd"])


def test_docstring_examples_run():
    import doctest

    import gembatch.planning.catalog
    import gembatch.planning.learned_limits
    import gembatch.planning.lineup
    import gembatch.planning.price_schedule

    planning = gembatch.planning
    for module in (planning.catalog, planning.learned_limits, planning.lineup, planning.price_schedule):
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__
