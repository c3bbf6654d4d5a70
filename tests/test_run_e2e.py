"""Runs end to end through the real google-genai SDK against the in-process emulator."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import BaseModel
from runs_support import (
    FAST,
    QUOTA,
    articles,
    assert_accounted,
    assert_no_duplicate_jobs,
    make_plan,
    peak,
    small_catalog,
)

import gembatch as gb
from gembatch.emulator import running

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("policy", ["rolling", "waves"])
def test_2000_articles_end_to_end_within_quota(tmp_path, policy):
    cat = small_catalog()
    arts = articles(2000)
    plan = make_plan(arts, cat, policy=policy)
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "run", arts, plan, client=emu.client(), **FAST)
        assert run.wait(timeout=240, progress=False)
        stats = emu.stats()
    res = run.results()
    assert (res["status"] == "succeeded").all()
    assert res["prompt_tokens"].gt(0).all()
    assert res["cost_usd"].gt(0).all()
    assert_no_duplicate_jobs(stats, run.run_id)
    assert peak(stats) <= QUOTA * plan.headroom
    assert (tmp_path / "run" / "results.parquet").exists()
    on_disk = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert len(on_disk) == 2000
    s = run.summary()
    assert (s["state"], s["succeeded"], s["cost_actual_usd"] > 0) == ("done", 2000, True)
    assert s["cost_actual_usd"] == pytest.approx(float(res["cost_usd"].sum()))
    chunks = run.chunks()
    assert (chunks["state"] == "collected").all()
    assert chunks["input_file"].isna().all(), "input files are deleted once their job exists"
    assert (chunks["remote_requests"] == chunks["articles"]).all(), "raw batchStats are read"
    events = run.events()
    assert events["enqueued_tokens"].max() <= QUOTA * plan.headroom
    assert str(events["time"].dtype).startswith("datetime64")


def test_recreate_same_run_reopens_and_different_is_refused(tmp_path):
    cat = small_catalog()
    arts = articles(50)
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        again = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client())
        assert again.run_id == run.run_id
        other = make_plan(arts, cat, prompt="Translate: {text}")
        with pytest.raises(gb.RunMismatch, match="differ from it: the prompt"):
            gb.Run.create(tmp_path / "r", arts, other, client=emu.client())
        with pytest.raises(gb.RunMismatch, match="differ from it: the articles"):
            gb.Run.create(tmp_path / "r", articles(50, seed=1), make_plan(articles(50, seed=1), cat))
        assert run.wait(timeout=60, progress=False)
        reopened = gb.Run.open(tmp_path / "r", client=emu.client(), pending_limit_s=5.0)
        assert reopened.summary()["succeeded"] == 50
        assert gb.Run.open(tmp_path / "r").config.pending_limit_s == 5.0  # saved in the ledger
        with pytest.raises(TypeError, match="unknown run option"):
            gb.Run.open(tmp_path / "r", pending_limit=5.0)
        assert "50 succeeded" in repr(reopened)


class Verdict(BaseModel):
    topic: str
    score: float
    words: int
    relevant: bool


def test_structured_output_columns_are_typed(tmp_path):
    cat = small_catalog()
    arts = articles(60)
    plan = make_plan(arts, cat, schema=Verdict)
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        assert run.wait(timeout=60, progress=False)
    res = run.results(join=True)
    assert (res["status"] == "succeeded").all()
    assert str(res["topic"].dtype) == "string"
    assert str(res["score"].dtype) == "Float64"
    assert str(res["words"].dtype) == "Int64"
    assert str(res["relevant"].dtype) == "boolean"
    assert res["topic"].notna().all()
    assert "text" in res.columns  # joined input columns
    pd.read_parquet(tmp_path / "r" / "results.parquet")  # typed columns survive parquet


def test_budget_stops_submission(tmp_path):
    cat = small_catalog()
    arts = articles(400)
    plan = make_plan(arts, cat, chunk_tokens=5_000)
    budget = plan.est_cost_usd * 0.4
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), budget_usd=budget, **FAST)
        assert run.wait(timeout=120, progress=False)
    s = run.summary()
    assert s["state"] == "budget"
    assert s["pending"] > 0
    ev = run.events()
    assert (ev["kind"] == "budget_blocked").any()
    blocked = run.chunks().query("blocked == 'budget'")
    assert (blocked["state"] == "planned").all()
    intents = ev[ev["kind"] == "intent"]
    assert (intents["spend_usd"] <= budget + 1e-9).all(), "committed spend never passed the budget at submit"
    with running(speed=20_000, catalog=cat) as emu:
        again = gb.Run.open(tmp_path / "r", client=emu.client())
        again.set_budget(None)  # lift it: the run goes on with what is pending
        assert again.wait(timeout=120, progress=False)
    assert again.summary()["state"] == "done"
    assert (again.results()["status"] == "succeeded").all()


def test_lost_create_response_is_reconciled_without_duplicate(tmp_path):
    cat = small_catalog()
    arts = articles(100)
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        emu.inject_fault("batches.create", drop_response=True)
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        assert run.wait(timeout=60, progress=False)
        stats = emu.stats()
    assert_no_duplicate_jobs(stats, run.run_id)
    kinds = set(run.events()["kind"])
    assert {"create_unknown", "reconciled"} <= kinds
    assert (run.results()["status"] == "succeeded").all()


def test_429_on_create_backs_off_and_keeps_the_plan(tmp_path):
    cat = small_catalog()
    arts = articles(100)
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        emu.inject_fault("batches.create", status=429, count=3)
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        assert run.wait(timeout=60, progress=False)
        stats = emu.stats()
    assert_no_duplicate_jobs(stats, run.run_id)
    assert (run.events()["kind"] == "create_refused").sum() == 3
    assert (run.results()["status"] == "succeeded").all()


def test_expired_and_failed_jobs_are_retried_as_new_attempts(tmp_path):
    cat = small_catalog()
    arts = articles(100)
    plan = make_plan(arts, cat, chunk_tokens=8_000)
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        first, second = run.chunks().index[:2]
        emu.inject_fault("batch", display_name=f"gembatch/{run.run_id}/{first}/1", outcome="EXPIRED")
        emu.inject_fault("batch", display_name=f"gembatch/{run.run_id}/{second}/1", outcome="FAILED")
        assert run.wait(timeout=60, progress=False)
        stats = emu.stats()
    assert_no_duplicate_jobs(stats, run.run_id)
    chunks = run.chunks()
    assert chunks.loc[first, "succeeded"] == 0
    assert (chunks["attempt"] == 2).any()
    res = run.results()
    assert (res["status"] == "succeeded").all()
    assert res["attempt"].max() == 2


def test_chaos_profile_accounts_for_every_article(tmp_path):
    cat = small_catalog()
    arts = articles(600)
    plan = make_plan(arts, cat, chunk_tokens=8_000)
    with running(speed=200_000, catalog=cat, profile="chaos", seed=3) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), max_attempts=3, **FAST)
        assert run.wait(timeout=240, progress=False)
        stats = emu.stats()
    assert_no_duplicate_jobs(stats, run.run_id)
    assert_accounted(run, 600)
    s = run.summary()
    assert s["pending"] == 0
    assert s["succeeded"] + s["failed"] == 600
    assert s["succeeded"] > 500
    assert peak(stats) <= QUOTA * plan.headroom


def test_identical_requests_are_sent_once(tmp_path):
    cat = small_catalog()
    base = gb.synthetic_articles(20, mean_chars=800)
    dup = base.copy()
    dup["id"] = dup["id"] + "-copy"
    arts = gb.read_articles(pd.concat([base, dup], ignore_index=True), id_col="id")
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        assert int(run.chunks()["articles"].sum()) == 20
        assert run.wait(timeout=60, progress=False)
    res = run.results()
    assert (res["status"] == "succeeded").all()
    a, b = base["id"].iloc[0], base["id"].iloc[0] + "-copy"
    assert res.loc[a, "output_text"] == res.loc[b, "output_text"]
    assert res.loc[b, "cost_usd"] == 0  # paid once, by the article that was sent


def test_start_stop_cancel(tmp_path):
    cat = small_catalog()
    arts = articles(300)
    plan = make_plan(arts, cat, chunk_tokens=5_000)
    with running(speed=50, catalog=cat) as emu:  # slow: jobs stay in flight
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        run.start()
        run.start()  # idempotent
        assert run.is_running
        while not run.chunks()["state"].eq("submitted").any():
            run._stop.wait(0.05)
        run.stop()
        assert not run.is_running
        run.cancel()
        assert run.wait(timeout=60, progress=False)
    s = run.summary()
    assert s["state"] == "cancelled"
    assert s["pending"] + s["succeeded"] + s["failed"] == 300
    assert run.chunks()["state"].eq("collected").all()


def test_a_refused_create_fails_its_articles_with_the_reason(tmp_path):
    cat = small_catalog()
    arts = articles(30)
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        emu.inject_fault("batches.create", status=400, count=1)
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        assert run.wait(timeout=60, progress=False)
    first = run.chunks().index[0]
    res = run.results()
    mine = res[res["chunk_id"] == first]
    assert len(mine) > 0
    assert (mine["status"] == "failed").all()
    assert mine["error"].str.contains("create refused: 400").all()
    assert (res[res["chunk_id"] != first]["status"] == "succeeded").all()
