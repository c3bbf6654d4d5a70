"""``gb.models()``, ``gembatch models`` (80 columns, details, JSON, --check) and ``gembatch limits``."""

from __future__ import annotations

import json

import pytest

import gembatch as gb
from gembatch.cli import main
from gembatch.emulator import running
from gembatch.planning.learned_limits import known_limits
from gembatch.planning.lineup import check_models


@pytest.fixture
def limits_file(tmp_path, monkeypatch):
    path = tmp_path / "limits.json"
    monkeypatch.setenv("GEMBATCH_LIMITS_FILE", str(path))
    return path


def test_models_frame_shows_prices_now_and_next_limits_and_origins():
    frame = gb.models(billing_date="2026-12-01", project=None)
    assert frame.index.name == "model"
    assert {"gemini-3.8-flash", "gemini-3.5-flash", "gemini-2.0-flash"} <= set(frame.index)
    flash = frame.loc["gemini-3.8-flash"]
    assert (flash["batch_input_price"], flash["batch_output_price"]) == (0.375, 1.875)
    assert (flash["next_prices_from"], flash["next_input_price"], flash["next_output_price"]) == (
        "2027-01-01",
        1.5,
        7.5,
    )
    assert flash["prices_until"] == "2026-12-31"
    assert "enqueued_tokens" in flash["assumed"]
    assert flash["as_of"] == "2026-10-07"
    assert "pricing" in flash["source"]
    assert frame.loc["gemini-2.0-flash", "status"] == "retired 2026-06-01"
    assert frame.loc["gemini-2.0-flash", "successor"] == "gemini-2.5-flash"
    assert frame.loc["gemini-2.5-flash", "assumed"] == ""  # published (early 2026), not guessed
    assert frame.attrs["billing_date"] == "2026-12-01"
    current = gb.models(include_retired=False, project=None)
    assert "gemini-2.0-flash" not in current.index


def test_models_cli_fits_80_columns(capsys):
    assert main(["models", "--billing-date", "2026-12-01"]) == 0
    out = capsys.readouterr().out
    assert "gemini-3.8-flash" in out
    assert "from 2027-01-01" in out
    assert "* assumed" in out
    assert "retired model(s) hidden" in out
    assert "gemini-2.0-flash " not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert main(["models", "--all"]) == 0
    out = capsys.readouterr().out
    assert "retired 2026-06-01; use gemini-2.5-flash" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_models_cli_one_model_and_json(capsys):
    assert main(["models", "models/gemini-3.1-pro-preview"]) == 0
    out = capsys.readouterr().out
    assert "long_context_threshold   200,000" in out
    assert "source" in out
    assert "as_of" in out
    assert main(["models", "--json", "--billing-date", "2027-01-01"]) == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["gemini-3.8-flash"]["batch_input_price"] == 0.75
    assert main(["models", "gemini-9-ultra"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_check_against_an_emulator_that_differs(limits_file):
    served = gb.load_catalog(
        {
            "gemini-2.5-flash": {"context_window": 2_000_000},
            "gemini-9-flash": {"as_of": "2027-01-01", "source": "test", "context_window": 1000,
                               "max_output_tokens": 100, "input_price": 1, "output_price": 1},
        }
    )  # fmt: skip
    gone = {"as_of": "2026-01-01", "source": "test", "context_window": 10, "max_output_tokens": 10,
            "input_price": 1, "output_price": 1}  # fmt: skip
    ours = gb.load_catalog({"gemini-7-gone": gone})
    with running(speed=600, catalog=served) as emu:
        frame = check_models(emu.client(), catalog=ours)
    verdicts = dict(zip(frame["model"], frame["verdict"], strict=True))
    assert verdicts["gemini-2.5-flash"] == "differs"
    assert verdicts["gemini-9-flash"] == "not in catalogue"
    assert verdicts["gemini-7-gone"] == "not served"
    assert verdicts["gemini-2.0-flash"] == "retired"  # the emulator drops retired models from its list
    assert verdicts["gemini-3.8-flash"] == "ok"
    detail = frame.set_index("model").loc["gemini-2.5-flash", "detail"]
    assert "context window: catalogue 1,048,576, service 2,000,000" in detail
    assert "emulator" in frame.attrs["against"]
    assert frame.attrs["emulator"]
    assert known_limits().empty  # the emulator teaches nothing about the real service


def test_check_cli_says_what_it_checked_against(capsys, monkeypatch):
    with running(speed=600) as emu:
        monkeypatch.setenv("GEMBATCH_EMULATOR_URL", emu.base_url)
        code = main(["models", "--check"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Checked against Gemini emulator at" in out
    assert "No API key is set" in out
    assert "the catalogue matches the service" in out


def test_limits_cli_set_show_forget(capsys, limits_file):
    assert main(["limits", "show"]) == 0
    assert "nothing learned or set yet" in capsys.readouterr().out
    assert main(["limits", "set", "gemini-3.5-flash", "--tier", "tier1", "--enqueued-tokens", "2000000"]) == 0
    assert main(["limits", "set", "*", "--spend-cap", "500"]) == 0
    capsys.readouterr()
    assert main(["limits", "show"]) == 0
    out = capsys.readouterr().out
    assert "enqueued_tokens (tier1) = 2,000,000" in out
    assert "spend_cap_usd_month = 500" in out
    assert main(["models"]) == 0
    assert "2M!" in capsys.readouterr().out
    assert gb.plan(["x"], "gemini-3.5-flash").quota_tokens == 2_000_000
    assert main(["limits", "forget", "gemini-3.5-flash", "enqueued_tokens"]) == 0
    assert gb.plan(["x"], "gemini-3.5-flash").quota_tokens == 3_000_000
    assert main(["limits", "set", "gemini-3.5-flash"]) == 2
    assert "give at least one limit" in capsys.readouterr().err


def test_limits_the_service_lists_are_learned_and_planned_with(limits_file):
    """What models.list states (token limits, thinking) is recorded for the client's project and
    used by the next plan for that project. The emulator stands in for a service whose figures
    differ from the catalogue; the recording step is the one ``check_models`` takes on the real
    service (it skips emulators, whose figures are gembatch's own)."""
    from gembatch.planning.learned_limits import project_of
    from gembatch.planning.lineup import _learn

    served = gb.load_catalog({"gemini-2.5-flash": {"context_window": 2_000_000, "max_output_tokens": 4_096}})
    with running(speed=600, catalog=served) as emu:
        client = emu.client()
        listed = {str(m.name).removeprefix("models/"): m for m in client.models.list()}
        _learn(client, "gemini-2.5-flash", listed["gemini-2.5-flash"])
    learned = known_limits()
    row = learned[(learned["model"] == "gemini-2.5-flash") & (learned["limit"] == "context_window")]
    assert int(row["value"].iloc[0]) == 2_000_000
    articles = gb.read_articles(gb.synthetic_articles(3, seed=1), id_col="id")
    project = project_of(client)
    plan = gb.plan(articles, "gemini-2.5-flash", project=project)
    assert plan.model_info.context_window == 2_000_000
    assert plan.model_info.max_output_tokens == 4_096
    assert gb.plan(articles, "gemini-2.5-flash", project=None).model_info.context_window == 1_048_576
