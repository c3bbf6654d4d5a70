"""RunRequest: one validated request; every option exists on every face."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import gembatch as gb
from gembatch.cli import build_parser
from gembatch.server._models import NOT_IN_BODY, CreateRunBody
from gembatch.workflow import RunRequest

MODEL = "gemini-2.5-flash-lite"
# RunRequest fields a terminal cannot give (Python objects), and flags named differently.
NOT_ON_CLI = {"estimator", "project", "run_options", "realtime", "inline", "cancel_stale"}
CLI_NAMES = {"inputs": "file", "budget_usd": "budget", "system_instruction": "system",
             "pending_limit_s": "pending_limit"}  # fmt: skip


@pytest.fixture(scope="module")
def articles() -> pd.DataFrame:
    return gb.read_articles(gb.synthetic_articles(20, mean_chars=800, seed=4))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"budget_usd": float("nan")}, "budget_usd", "positive number of dollars"),
        ({"budget_usd": -1.0}, "budget_usd", "positive number of dollars"),
        ({"budget_usd": "5"}, "budget_usd", "positive number of dollars"),
        ({"budget_usd": True}, "budget_usd", "positive number of dollars"),
        ({"max_attempts": 0}, "max_attempts", "whole number from 1 to 10"),
        ({"max_attempts": 1.5}, "max_attempts", "whole number from 1 to 10"),
        ({"policy": "fastest"}, "policy", "policy must be one of tail, rolling, waves"),
        ({"mode": "turbo"}, "mode", "mode must be one of batch, realtime"),
        ({"headroom": 1.5}, "headroom", "headroom must be a number in (0, 1]"),
        ({"temperature": 3.0}, "temperature", "temperature"),
        ({"chunk_tokens": 0}, "chunk_tokens", "chunk_tokens"),
        ({"thinking_budget": -2}, "thinking_budget", "thinking_budget"),
        ({"prompt": "   "}, "prompt", "prompt is empty"),
        ({"prompt": "{text}", "prompt_file": "p.txt"}, "prompt", "not both"),
        ({"realtime": {"rpmm": 5}}, "realtime", "realtime options"),
        ({"model": ""}, "model", "model must be a model id"),
        ({"billing_date": "someday"}, "billing_date", "billing_date must be a date"),
    ],
)
def test_each_bad_value_gets_one_error_naming_its_field(
    articles: pd.DataFrame, fields: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(gb.InputError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        RunRequest(inputs=articles, **fields)
    assert err.value.field == field


def test_files_are_read_once_with_clear_errors(tmp_path: Path, articles: pd.DataFrame) -> None:
    prompt, system, schema = tmp_path / "p.txt", tmp_path / "s.txt", tmp_path / "schema.json"
    prompt.write_text("Classify: {text}")
    system.write_text("Be brief.")
    schema.write_text(json.dumps({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}}))
    req = RunRequest(inputs=articles, prompt_file=prompt, system_file=str(system), schema=str(schema))
    assert req.resolved_prompt == "Classify: {text}"
    assert req.resolved_system_instruction == "Be brief."
    assert req.resolved_schema["type"] == "OBJECT"
    assert req.plan().spec.prompt == "Classify: {text}"
    missing = RunRequest(inputs=articles, prompt_file=tmp_path / "missing.txt")
    with pytest.raises(gb.InputError, match=r"cannot read prompt_file .* does not exist") as err:
        missing.plan()
    assert err.value.field == "prompt_file"
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(gb.InputError, match="not valid JSON"):
        RunRequest(inputs=articles, schema=str(tmp_path / "bad.json")).load()
    assert RunRequest(inputs=articles, schema="gembatch.planning.plan:Plan").resolved_schema is gb.Plan


def test_empty_strings_from_forms_mean_unset(articles: pd.DataFrame) -> None:
    req = RunRequest(inputs=articles, system_instruction="", schema="", prompt_file="", run_id="")
    assert (req.system_instruction, req.schema, req.prompt_file, req.run_id) == (None, None, None, None)
    assert req.resolved_prompt == "{text}"


def test_the_budget_is_checked_against_the_cost_of_the_mode(articles: pd.DataFrame) -> None:
    cost = RunRequest(inputs=articles).estimate()
    between = (cost.batch_cost_usd + cost.realtime_cost_usd) / 2
    batch = RunRequest(inputs=articles, budget_usd=between)
    assert batch.plan().budget_usd == between
    realtime = batch.replace(mode="realtime")
    with pytest.raises(gb.BudgetExceeded, match=r"real-time cost .* exceeds the budget"):
        realtime.plan()
    assert realtime.plan(check_budget=False).budget_usd == between
    assert realtime.budget_problem(cost) is not None
    assert batch.budget_problem(cost) is None


def test_estimate_and_plan_agree_with_the_library(articles: pd.DataFrame) -> None:
    req = RunRequest(inputs=articles, model=MODEL, prompt="Sum: {text}", expected_output_tokens=90)
    direct = gb.estimate(articles, model=MODEL, prompt="Sum: {text}", expected_output_tokens=90)
    assert req.estimate().to_dict() == direct.to_dict()
    assert req.plan().cost.to_dict() == direct.to_dict()


def test_replace_keeps_articles_already_read(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    gb.synthetic_articles(3, mean_chars=300).to_json(path, orient="records", lines=True)
    req = RunRequest(inputs=path, id_col="id").load()
    path.unlink()  # an upload's temporary file is gone by the time the run is created
    assert len(req.replace(run_id="r1").articles) == 3


def test_plan_and_create_makes_the_run_and_reopens_it(tmp_path: Path, articles: pd.DataFrame) -> None:
    with gb.emulator.running(speed=50_000) as emu:
        req = RunRequest(inputs=articles, max_attempts=2, budget_usd=1.0, pending_limit_s=600.0)
        run = req.plan_and_create(tmp_path / "run", client=emu.client())
        config = run.config
        assert (config.max_attempts, config.budget_usd, config.pending_limit_s) == (2, 1.0, 600.0)
        assert req.plan_and_create(tmp_path / "run", client=emu.client()).run_id == run.run_id
        with pytest.raises(gb.InputError, match="unknown run option"):
            req.replace(run_options={"colour": "red"}).plan_and_create(tmp_path / "r2", client=emu.client())


def _cli_options(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest for a in sub.choices[command]._actions}


@pytest.mark.parametrize("command", ["run", "plan", "estimate"])
def test_every_request_option_is_a_cli_flag(command: str) -> None:
    wanted = {CLI_NAMES.get(f, f) for f in RunRequest.field_names()} - NOT_ON_CLI
    assert wanted <= _cli_options(command)
    assert {"rpm", "tpm"} <= _cli_options(command)  # the real-time options a terminal gives


def test_every_request_option_is_a_rest_field() -> None:
    # the articles themselves, or (``inputs``) only a bq:// table: the source, not an option
    body = {f.alias or name for name, f in CreateRunBody.model_fields.items()} - {"articles", "inputs"}
    assert body == set(RunRequest.field_names()) - set(NOT_IN_BODY)


def test_the_panel_takes_every_request_option(articles: pd.DataFrame) -> None:
    from gembatch_widgets import SubmitPanel

    panel = SubmitPanel(articles, display="widget", chunk_tokens=5000, max_attempts=4, thinking_budget=0,
                        headroom=0.5, expected_output_tokens=77)  # fmt: skip
    req = panel.request()
    assert (req.chunk_tokens, req.max_attempts, req.thinking_budget, req.headroom) == (5000, 4, 0, 0.5)
    assert panel.summary.output_tokens == 77 * len(articles)
    panel.budget.value = 0.0
    assert panel.request().budget_usd is None  # 0 in the form means no budget


def test_the_guide_lists_every_request_flag() -> None:
    guide = (Path(__file__).parents[1] / "docs" / "guide.md").read_text("utf-8")
    start = guide.index("take the same request flags")
    listed = set(re.findall(r"`(--[a-z][\w-]*)`", guide[start : guide.index("\n\n", start)]))
    parser_flags = {
        opt for action in build_parser()._subparsers._group_actions[0].choices["run"]._actions  # type: ignore[union-attr]
        for opt in action.option_strings if opt.startswith("--")
    }  # fmt: skip
    run_only = {"--run-dir", "--no-wait", "--max-wait", "--force", "--help"}
    assert listed == parser_flags - run_only
