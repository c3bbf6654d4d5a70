"""The response cache: keys, the store, and runs on the emulator that take answers already paid for."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from runs_support import FAST, MODEL, articles, small_catalog

import gembatch as gb
from gembatch.cache import CacheEntry, lookup, request_key, resolve_cache_dir
from gembatch.cli import main
from gembatch.emulator import running

PROMPT = "Summarise in one sentence:\n{text}"


def _entry(key: str, *, text: str = "answer", cost: float = 0.01, created: float = 1.0) -> CacheEntry:
    return CacheEntry(key=key, backend="emulator", model=MODEL, output_text=text, output_json=None,
                      finish_reason="STOP", prompt_tokens=10, output_tokens=5, thoughts_tokens=0,
                      cost_usd=cost,
                      mode="batch", run_id="r", created_at=created)  # fmt: skip


def _request(**fields: Any) -> gb.RunRequest:
    fields.setdefault("prompt", PROMPT)
    # finished jobs stay at the service, so its listing shows every job a run ever sent
    options = {**FAST, "delete_collected_jobs": False}
    return gb.RunRequest(
        model=MODEL, catalog=small_catalog(), chunk_tokens=15_000, run_options=options, **fields
    )


def _jobs_of(emu: Any, run: gb.Run) -> list[Any]:
    """The run's jobs as the emulator lists them (display names start with gembatch/<run_id>/)."""
    prefix = f"gembatch/{run.run_id}/"
    listed = [j for j in emu.client().batches.list() if (j.display_name or "").startswith(prefix)]
    created = [k for k in emu.stats()["batches_created_by_display_name"] if k.startswith(prefix)]
    assert len(created) == len(listed), "the listing shows every job the emulator created for the run"
    return listed


# -- keys and store --------------------------------------------------------------------------
def test_the_key_is_backend_model_and_request_never_the_article_id() -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}
    key = request_key("emulator", MODEL, body)
    assert key == request_key("emulator", "models/" + MODEL, json.loads(json.dumps(body)))
    assert key != request_key("gemini", MODEL, body)
    assert key != request_key("emulator", "gemini-2.5-flash", body)
    assert key != request_key("emulator", MODEL, {**body, "generationConfig": {"temperature": 0.2}})
    assert key != request_key(
        "emulator", MODEL, {**body, "systemInstruction": {"parts": [{"text": "Be brief"}]}}
    )
    arts = articles(4)
    renamed = arts.set_axis([f"other-{i}" for i in range(4)])
    spec = gb.RequestSpec(model=MODEL, prompt=PROMPT)
    from gembatch.cache.lookup import article_keys

    assert list(article_keys(arts, spec, "emulator").values()) == list(
        article_keys(renamed, spec, "emulator").values()
    )


@pytest.mark.parametrize("prompt", ["{text}", "Sum {{x}} ü: {title}\n{text} / {n} {title}", "{text} — end"])
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {
            "system_instruction": "Be brief",
            "temperature": 0.3,
            "response_schema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
        },
    ],
)
def test_keys_of_a_frame_are_the_keys_of_its_request_lines(prompt: str, settings: dict[str, Any]) -> None:
    from gembatch.cache.keys import spec_keys
    from gembatch.inputs.request_lines import iter_request_lines

    arts = articles(30)
    arts["n"] = [float(i) for i in range(30)]
    arts.loc[arts.index[3], "n"] = float("nan")
    spec = gb.RequestSpec(model=MODEL, prompt=prompt, **settings)
    whole = [request_key("emulator", MODEL, line["request"]) for line in iter_request_lines(arts, spec)]
    assert spec_keys(arts, spec, "emulator") == whole
    assert len(set(whole)) == 30


def test_the_first_answer_stored_wins_and_prune_goes_by_last_use(tmp_path: Path) -> None:
    with gb.ResponseCache(tmp_path / "c") as cache:
        assert cache.put_many([_entry("a", text="first"), _entry("b")]) == 2
        assert cache.put_many([_entry("a", text="second"), _entry("c")]) == 1
        got = cache.get_many(["a", "b", "zz"])
        assert set(got) == {"a", "b"}
        assert got["a"].output_text == "first"
        cache.mark_used(["a"], when=2e9)
        assert cache.prune() == 0, "no criterion: nothing deleted"
        assert cache.prune(older_than_s=0) == 2  # b and c were last used when stored (epoch 1), a later
        assert set(cache.get_many(["a", "b", "c"])) == {"a"}
        cache.put_many([_entry("d"), _entry("e")])
        assert cache.prune(model="gemini-2.5-flash") == 0
        assert cache.prune(model=MODEL) == 3
        info = cache.info()
    assert info.entries == 0
    assert info.path.endswith("responses.sqlite")


def test_the_cache_dir_comes_from_the_argument_then_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GEMBATCH_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.setenv("GEMBATCH_CACHE_DIR", "off")
    assert resolve_cache_dir() is None
    monkeypatch.delenv("GEMBATCH_CACHE_DIR")
    assert resolve_cache_dir().name == "gembatch"


def test_an_unreadable_cache_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "responses.sqlite").write_text("not a database")
    with pytest.raises(gb.GembatchError, match="not a readable gembatch cache"):
        gb.ResponseCache(tmp_path / "c")


def test_concurrent_writers_in_other_processes_all_land(tmp_path: Path) -> None:
    code = (
        "import sys, gembatch as gb\n"
        "from gembatch.cache import CacheEntry\n"
        "c = gb.ResponseCache(sys.argv[1])\n"
        "for i in range(200):\n"
        "    c.put_many([CacheEntry(f'k{i}', 'emulator', 'm', sys.argv[2], None, 'STOP', 1, 1, 0, 0.1, "
        "'batch', "
        "sys.argv[2], 1.0)])\n"
    )  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), w]) for w in ("w1", "w2", "w3")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with gb.ResponseCache(tmp_path) as cache:
        entries = cache.entries()
    assert len(entries) == 200
    assert {e.key for e in entries} == {f"k{i}" for i in range(200)}
    with sqlite3.connect(tmp_path / "responses.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- runs on the emulator --------------------------------------------------------------------
@pytest.mark.slow
def test_a_second_run_over_the_same_articles_submits_nothing_and_costs_nothing(tmp_path: Path) -> None:
    arts = articles(40)
    with running(speed=20_000, catalog=small_catalog()) as emu:
        first = _request(inputs=arts).plan_and_create(tmp_path / "r1", client=emu.client())
        assert first.wait(timeout=120, progress=False)
        paid = first.results()
        assert (paid["status"] == "succeeded").all()
        assert not paid["cached"].any()
        assert _jobs_of(emu, first), "the first run sent its articles"

        req = _request(inputs=arts)
        est = req.estimate(client=emu.client())
        assert (est.cache_hits, est.cache_misses, est.articles, est.batch_cost_usd) == (40, 0, 0, 0.0)
        assert est.cache_saved_usd == pytest.approx(float(paid["cost_usd"].sum()))
        assert "40 articles already answered" in repr(est)
        second = req.plan_and_create(tmp_path / "r2", client=emu.client())
        assert second.wait(timeout=60, progress=False)
        again = second.results()
        assert _jobs_of(emu, second) == [], "nothing was submitted"
        assert second.chunks().empty
    pd.testing.assert_series_equal(again["output_text"], paid["output_text"])
    assert again["cached"].all()
    assert float(again["cost_usd"].sum()) == 0.0
    assert (again["chunk_id"] == "cache").all()
    s = second.summary()
    assert (s.cache_hits, s.cache_misses, s.cost_actual_usd, s.state) == (40, 0, 0.0, "done")
    assert s.cache_saved_usd == pytest.approx(float(paid["cost_usd"].sum()))
    assert "40 articles answered from the cache" in repr(second)
    assert "answered from the cache" in second._repr_html_()
    assert again.attrs["cache_hits"] == 40
    on_disk = (
        pd.read_parquet(tmp_path / "r2" / "results.parquet")
        if (tmp_path / "r2" / "results.parquet").exists()
        else None
    )
    assert on_disk is None or on_disk["cached"].all()


@pytest.mark.slow
def test_a_changed_prompt_on_half_of_the_articles_pays_only_for_that_half(tmp_path: Path) -> None:
    arts = articles(40)
    arts["task"] = "Summarise in one sentence"
    prompt = "{task}:\n{text}"
    with running(speed=20_000, catalog=small_catalog()) as emu:
        first = _request(inputs=arts, prompt=prompt).plan_and_create(tmp_path / "r1", client=emu.client())
        assert first.wait(timeout=120, progress=False)
        changed = arts.copy()
        half = list(changed.index[::2])
        changed.loc[half, "task"] = "List the three main facts"
        req = _request(inputs=changed, prompt=prompt)
        plan = req.plan(client=emu.client())
        assert len(plan.assignments) == 20
        assert set(plan.assignments.index) == set(half)
        assert any("20 articles already answered" in n for n in plan.notes)
        second = req.create(tmp_path / "r2", plan, client=emu.client())
        assert second.wait(timeout=120, progress=False)
        assert _jobs_of(emu, second)
    res = second.results()
    chunks = second.chunks()
    assert int(chunks["remote_requests"].sum()) == 20, "only the changed half reached the service"
    assert set(res.index[res["cached"].fillna(False)]) == set(arts.index) - set(half)
    assert (res.loc[half, "cost_usd"] > 0).all()
    assert float(res.drop(index=half)["cost_usd"].sum()) == 0.0
    s = second.summary()
    assert (s.cache_hits, s.cache_misses, s.succeeded) == (20, 20, 40)
    assert s.cost_actual_usd == pytest.approx(float(res.loc[half, "cost_usd"].sum()))
    assert (res["status"] == "succeeded").all()


@pytest.mark.slow
def test_two_runs_sharing_a_cache_concurrently_stay_consistent(tmp_path: Path) -> None:
    arts = articles(60)
    overlap = {"a": arts.iloc[:40], "b": arts.iloc[20:]}
    runs: dict[str, gb.Run] = {}
    errors: list[BaseException] = []
    with running(speed=20_000, catalog=small_catalog(400_000)) as emu:

        def go(name: str) -> None:
            try:
                run = _request(inputs=overlap[name]).plan_and_create(tmp_path / name, client=emu.client())
                runs[name] = run
                run.wait(timeout=120, progress=False)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=go, args=(n,)) for n in overlap]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert not errors, errors
        third = _request(inputs=arts).plan_and_create(tmp_path / "c", client=emu.client())
        assert third.wait(timeout=60, progress=False)
        assert _jobs_of(emu, third) == []
    a, b, c = runs["a"].results(), runs["b"].results(), third.results()
    both = a.index.intersection(b.index)
    assert len(both) == 20
    pd.testing.assert_series_equal(a.loc[both, "output_text"], b.loc[both, "output_text"])
    assert c["cached"].all()
    assert (c["status"] == "succeeded").all()
    pd.testing.assert_series_equal(c.loc[a.index, "output_text"], a["output_text"])
    pd.testing.assert_series_equal(c.loc[b.index, "output_text"], b["output_text"])
    with gb.ResponseCache(os.environ["GEMBATCH_CACHE_DIR"]) as cache:
        assert len(cache) == 60, "one entry per distinct request, however many runs paid for it"


@pytest.mark.slow
def test_failed_answers_are_not_cached(tmp_path: Path) -> None:
    arts = articles(40)
    profile = {"line_error_rate": 0.5, "line_error_mix": {"400": 1.0}}
    with running(speed=20_000, catalog=small_catalog(), profile=profile) as emu:
        run = _request(inputs=arts, max_attempts=1).plan_and_create(tmp_path / "r", client=emu.client())
        assert run.wait(timeout=120, progress=False)
    res = run.results()
    ok, failed = res[res["status"] == "succeeded"], res[res["status"] == "failed"]
    assert len(ok), "the profile leaves some lines alone"
    assert len(failed), "the profile fails some lines"
    spec = gb.RequestSpec(model=MODEL, prompt=PROMPT)
    with gb.ResponseCache(os.environ["GEMBATCH_CACHE_DIR"]) as cache:
        found = lookup(arts, spec, "emulator", cache)
        assert set(found.hits) == set(ok.index)
        assert all(found.hits[a].output_text == ok.loc[a, "output_text"] for a in ok.index)
        assert all(found.hits[a].cost_usd > 0 for a in ok.index), "entries record what they cost"
        assert lookup(arts, spec, "gemini", cache).hits == {}, "another backend's answers never match"


@pytest.mark.slow
def test_cache_off_sends_everything_and_stores_nothing(tmp_path: Path) -> None:
    arts = articles(20)
    with running(speed=20_000, catalog=small_catalog()) as emu:
        first = _request(inputs=arts).plan_and_create(tmp_path / "r1", client=emu.client())
        assert first.wait(timeout=120, progress=False)
        second = _request(inputs=arts, cache=False).plan_and_create(tmp_path / "r2", client=emu.client())
        assert second.wait(timeout=120, progress=False)
        assert _jobs_of(emu, second), "with the cache off the articles are sent again"
    res = second.results()
    assert not res["cached"].any()
    assert (res["cost_usd"] > 0).all()
    assert second.summary().cache_hits == 0


@pytest.mark.slow
def test_cli_no_cache_flag_and_cache_commands(tmp_path: Path, monkeypatch, capsys) -> None:
    data = tmp_path / "a.jsonl"
    gb.synthetic_articles(8, mean_chars=600, seed=2).to_json(data, orient="records", lines=True)
    with running(speed=20_000) as emu:
        monkeypatch.setenv("GEMBATCH_EMULATOR_URL", emu.base_url)
        assert main(["run", str(data), "--run-dir", str(tmp_path / "r1"), "--prompt", PROMPT]) == 0
        assert main(["estimate", str(data), "--prompt", PROMPT]) == 0
        assert "8 articles already answered" in capsys.readouterr().out
        assert (
            main(["run", str(data), "--run-dir", str(tmp_path / "r2"), "--prompt", PROMPT, "--no-cache"]) == 0
        )
        assert gb.Run.open(tmp_path / "r2").summary().cache_hits == 0
        assert main(["run", str(data), "--run-dir", str(tmp_path / "r3"), "--prompt", PROMPT]) == 0
        assert gb.Run.open(tmp_path / "r3").summary().cache_hits == 8
    capsys.readouterr()
    assert main(["cache", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["entries"], info["hits"]) == (8, 8)
    assert main(["cache", "export", str(tmp_path / "cache.csv")]) == 0
    exported = pd.read_csv(tmp_path / "cache.csv")
    assert len(exported) == 8
    assert set(exported["backend"]) == {"emulator"}
    assert {"model", "created_at", "prompt_tokens", "cost_usd", "output_text"} <= set(exported.columns)
    assert main(["cache", "prune"]) == 2, "pruning needs a criterion"
    assert "--older-than" in capsys.readouterr().err
    assert main(["cache", "prune", "--older-than", "1"]) == 0
    assert main(["cache", "prune", "--all"]) == 0
    assert "pruned 8 cached answers; 0 left" in capsys.readouterr().out
