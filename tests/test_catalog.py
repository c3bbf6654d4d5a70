"""The model catalogue: built-in data, overrides, unknown models and tiers."""

from __future__ import annotations

import json

import pytest

import gembatch as gb
from gembatch.planning.catalog import TIERS


def test_builtin_models_have_dated_prices_and_limits():
    cat = gb.default_catalog()
    assert "gemini-2.5-flash-lite" in cat.ids()
    for mid in cat.ids():
        m = cat.get(mid)
        assert m.as_of
        assert m.source
        assert m.batch_input_price == pytest.approx(m.input_price / 2)
        assert m.batch_output_price == pytest.approx(m.output_price / 2)
        assert m.concurrent_batch_jobs == 100
        assert m.inline_limit_bytes == 20_000_000
        assert m.file_limit_bytes == 2_000_000_000
        assert m.enqueued_limit("tier1") > 0


def test_tier1_enqueued_limits_match_the_docs():
    cat = gb.default_catalog()
    assert cat.get("gemini-2.5-pro").enqueued_limit("tier1") == 5_000_000
    assert cat.get("gemini-2.5-flash").enqueued_limit("tier1") == 3_000_000
    assert cat.get("gemini-2.5-flash-lite").enqueued_limit("tier1") == 10_000_000


def test_long_context_prices_apply_above_the_threshold():
    pro = gb.default_catalog().get("gemini-2.5-pro")
    assert pro.prices("realtime", 100_000) == (1.25, 10.0)
    assert pro.prices("realtime", 300_000) == (2.5, 15.0)
    assert pro.prices("batch", 300_000) == (1.25, 7.5)


def test_thinking_tokens_are_billed_as_output():
    m = gb.default_catalog().get("gemini-2.5-flash")
    assert m.cost(1_000_000, 0, "realtime", thoughts_tokens=1_000_000) == pytest.approx(0.30 + 2.50)
    assert m.cost(1_000_000, 1_000_000, "batch") == pytest.approx(0.15 + 1.25)


def test_models_prefix_is_accepted():
    cat = gb.default_catalog()
    assert cat.get("models/gemini-2.0-flash") is cat.get("gemini-2.0-flash")


def test_unknown_model_lists_known_ones():
    with pytest.raises(gb.UnknownModel) as err:
        gb.default_catalog().get("gemini-9-ultra")
    assert "gemini-9-ultra" in str(err.value)
    assert "gemini-2.5-flash" in str(err.value)


def test_unknown_tier_and_free_tier_batch_are_clear_errors():
    m = gb.default_catalog().get("gemini-2.5-flash")
    with pytest.raises(gb.CatalogError, match="unknown tier"):
        m.enqueued_limit("tier9")
    with pytest.raises(gb.CatalogError, match="free tier"):
        m.enqueued_limit("free")
    assert TIERS[0] == "free"


def test_override_from_dict_adds_and_replaces():
    cat = gb.load_catalog(
        {
            "gemini-2.5-flash": {"input_price": 0.5, "enqueued_tokens": {"tier1": 7}},
            "acme-1": {
                "as_of": "2026-11-01",
                "source": "contract",
                "context_window": 1000,
                "max_output_tokens": 100,
                "input_price": 1.0,
                "output_price": 2.0,
                "enqueued_tokens": {"tier1": 5000},
            },
        }
    )
    flash = cat.get("gemini-2.5-flash")
    assert flash.input_price == 0.5
    assert flash.enqueued_limit("tier1") == 7
    assert flash.enqueued_limit("tier2") == 400_000_000  # untouched tiers are kept
    acme = cat.get("acme-1")
    assert acme.batch_output_price == 1.0
    assert acme.inline_limit_bytes == 20_000_000  # defaults fill in
    assert gb.default_catalog().get("gemini-2.5-flash").input_price == 0.30  # no mutation


def test_override_from_toml_and_json_files(tmp_path):
    toml = tmp_path / "cat.toml"
    toml.write_text('[models."gemini-2.0-flash"]\noutput_price = 9.0\n')
    assert gb.load_catalog(toml).get("gemini-2.0-flash").output_price == 9.0
    js = tmp_path / "cat.json"
    js.write_text(json.dumps({"models": {"gemini-2.0-flash": {"output_price": 8.0}}}))
    assert gb.load_catalog(js).get("gemini-2.0-flash").output_price == 8.0


def test_env_catalogue_file_is_applied(tmp_path, monkeypatch):
    toml = tmp_path / "cat.toml"
    toml.write_text('[models."gemini-2.0-flash"]\ninput_price = 3.0\n')
    monkeypatch.setenv("GEMBATCH_CATALOG", str(toml))
    assert gb.default_catalog().get("gemini-2.0-flash").input_price == 3.0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"gemini-2.0-flash": {"colour": "red"}}, "unknown field"),
        ({"gemini-2.0-flash": {"input_price": -1}}, "input_price must be a number"),
        ({"new-model": {"input_price": 1.0}}, "needs field"),
        ({"gemini-2.0-flash": {"rpm": {"tier7": 1}}}, "unknown tier"),
    ],
)
def test_bad_overrides_name_the_problem(entry, message):
    with pytest.raises(gb.CatalogError, match=message):
        gb.load_catalog(entry)


def test_unreadable_catalogue_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[models\n")
    with pytest.raises(gb.CatalogError, match="not valid"):
        gb.load_catalog(bad)
    with pytest.raises(gb.CatalogError, match="cannot read"):
        gb.load_catalog(tmp_path / "missing.toml")
