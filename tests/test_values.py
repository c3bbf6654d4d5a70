"""Budgets and attempts are checked by one rule wherever they enter: RunRequest, gb.plan, Run."""

from __future__ import annotations

import math

import pytest

import gembatch as gb
from gembatch.inputs.values import MAX_ATTEMPTS, check_attempts, check_budget

MODEL = "gemini-2.5-flash-lite"
BAD_BUDGETS = [math.nan, math.inf, -1, 0, "abc", True]
BAD_ATTEMPTS = [0, -2, MAX_ATTEMPTS + 1, 2.5, "3", True]


@pytest.mark.parametrize("value", BAD_BUDGETS)
def test_bad_budgets_are_refused_everywhere(value, tmp_path) -> None:
    with pytest.raises(gb.InputError, match="budget_usd must be a positive number"):
        check_budget(value)
    articles = gb.read_articles(["A short article about the harbour."])
    with pytest.raises(gb.InputError, match="budget_usd must be a positive number"):
        gb.plan(articles, MODEL, budget_usd=value)
    with pytest.raises(gb.InputError, match="budget_usd must be a positive number"):
        gb.RunRequest(inputs=articles, model=MODEL, budget_usd=value).plan()
    plan = gb.plan(articles, MODEL)
    with pytest.raises(gb.InputError, match="budget_usd must be a positive number"):
        gb.Run.create(tmp_path / "run", articles, plan, budget_usd=value)
    assert not (tmp_path / "run").exists(), "nothing is written for a refused value"


@pytest.mark.parametrize("value", BAD_ATTEMPTS)
def test_bad_attempts_are_refused_everywhere(value, tmp_path) -> None:
    with pytest.raises(gb.InputError, match="max_attempts must be a whole number from 1 to 10"):
        check_attempts(value)
    articles = gb.read_articles(["A short article about the harbour."])
    with pytest.raises(gb.InputError, match="max_attempts"):
        gb.RunRequest(inputs=articles, model=MODEL, max_attempts=value).plan()
    with pytest.raises(gb.InputError, match="max_attempts"):
        gb.Run.create(tmp_path / "run", articles, gb.plan(articles, MODEL), max_attempts=value)
    assert not (tmp_path / "run").exists()


def test_good_values_pass() -> None:
    assert check_budget(None) is None
    assert check_budget(2) == 2.0
    assert check_attempts(1) == 1
    assert check_attempts(MAX_ATTEMPTS) == MAX_ATTEMPTS
