"""Re-creating a run reopens it when what defines it is the same, whatever the plan's split."""

from __future__ import annotations

import pytest
from runs_support import FAST, articles, make_plan, small_catalog

import gembatch as gb
from gembatch.emulator import running


def test_a_plan_split_differently_reopens_the_run(tmp_path):
    """The split follows the quota (learned limits may change it); the run keeps its own chunks."""
    arts = articles(40)
    plan = make_plan(arts, small_catalog())
    other_split = make_plan(arts, small_catalog(), chunk_tokens=6_000)
    assert not plan.assignments.equals(other_split.assignments)
    with running(speed=20_000, catalog=small_catalog()) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        again = gb.Run.create(tmp_path / "r", arts, other_split, client=emu.client())
        assert again.run_id == run.run_id
        assert len(again.chunks()) == len(run.chunks())


def test_a_mismatch_says_in_words_what_differs(tmp_path):
    arts = articles(10)
    plan = make_plan(arts, small_catalog())
    with running(speed=20_000, catalog=small_catalog()) as emu:
        gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        changed = make_plan(arts, small_catalog(), prompt="Translate: {text}", policy="waves")
        with pytest.raises(gb.RunMismatch) as info:
            gb.Run.create(tmp_path / "r", arts, changed, client=emu.client())
    message = str(info.value)
    assert "the prompt, system instruction, schema or generation settings" in message
    assert "the tier, policy, headroom, budget or max_attempts" in message
    assert "the articles" not in message
    assert "run has" not in message  # no hashes
