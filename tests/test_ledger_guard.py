"""The ledger protects the money: a run directory with earlier work and a missing, empty or
unreadable ledger is refused (nothing submitted, nothing changed) unless force=True."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from runs_support import FAST, articles, make_plan, small_catalog

import gembatch as gb
from gembatch.emulator import running


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _damage(ledger: Path, how: str) -> None:
    for side in (ledger.with_name(ledger.name + "-wal"), ledger.with_name(ledger.name + "-shm")):
        side.unlink(missing_ok=True)
    if how == "missing":
        ledger.unlink()
    elif how == "empty":
        ledger.write_bytes(b"")
    elif how == "truncated":
        ledger.write_bytes(ledger.read_bytes()[:3000])
    else:  # garbage
        ledger.write_bytes(b"not a database at all" * 100)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 20-article run, copied per test."""
    root = tmp_path_factory.mktemp("guard")
    arts = articles(20)
    plan = make_plan(arts, small_catalog())
    with running(speed=20_000, catalog=small_catalog()) as emu:
        run = gb.Run.create(root / "run", arts, plan, client=emu.client(), **FAST)
        assert run.wait(timeout=60, progress=False)
        run.store.close()
    return root / "run", arts, plan, run.run_id


@pytest.mark.parametrize("how", ["missing", "empty", "truncated", "garbage"])
def test_a_damaged_ledger_beside_earlier_work_is_refused(finished, tmp_path, how):
    import shutil

    src, arts, plan, run_id = finished
    run_dir = tmp_path / "run"
    shutil.copytree(src, run_dir)
    _damage(run_dir / "ledger.sqlite", how)
    before = _snapshot(run_dir)
    with running(speed=20_000, catalog=small_catalog()) as emu:
        for attempt in (
            lambda: gb.Run.create(run_dir, arts, plan, client=emu.client(), **FAST),
            lambda: gb.Run.open(run_dir, client=emu.client()),
        ):
            with pytest.raises(gb.LedgerDamaged) as info:
                attempt()
            message = str(info.value)
            assert run_id in message  # names the old run and where its jobs may be
            assert "force=True" in message
        assert not emu.stats()["batches_created_by_display_name"], "nothing was submitted"
    assert _snapshot(run_dir) == before, "the directory is left byte-identical"


def test_force_moves_the_old_files_aside_and_starts_a_new_run(finished, tmp_path):
    import shutil

    src, arts, plan, run_id = finished
    run_dir = tmp_path / "run"
    shutil.copytree(src, run_dir)
    _damage(run_dir / "ledger.sqlite", "garbage")
    old_results = (run_dir / "results.parquet").read_bytes()
    with running(speed=20_000, catalog=small_catalog()) as emu:
        run = gb.Run.create(run_dir, arts, plan, client=emu.client(), force=True, **FAST)
        assert run.run_id != run_id
    aside = [p for p in run_dir.iterdir() if p.name.startswith("damaged-")]
    assert len(aside) == 1
    assert (aside[0] / "results.parquet").read_bytes() == old_results, "the old results are kept"


def test_a_create_that_crashed_before_its_commit_starts_afresh(tmp_path):
    """No marker and no results: nothing was ever submitted from this directory."""
    arts = articles(5)
    plan = make_plan(arts, small_catalog())
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "ledger.sqlite").write_bytes(b"")
    arts.to_parquet(run_dir / "articles.parquet")
    with running(speed=20_000, catalog=small_catalog()) as emu:
        run = gb.Run.create(run_dir, arts, plan, client=emu.client(), **FAST)
        assert run.wait(timeout=60, progress=False)
    assert (run_dir / "run.json").exists()


def test_the_cli_refuses_in_one_line_and_force_goes_on(finished, tmp_path, capsys, monkeypatch):
    import shutil

    from gembatch.cli import main

    src, arts, _plan, run_id = finished
    run_dir = tmp_path / "run"
    shutil.copytree(src, run_dir)
    _damage(run_dir / "ledger.sqlite", "empty")
    data = tmp_path / "a.jsonl"
    arts.reset_index().rename(columns={"article_id": "id"})[["id", "text"]].to_json(
        data, orient="records", lines=True
    )
    with running(speed=20_000, catalog=small_catalog()) as emu:
        monkeypatch.setenv("GEMBATCH_EMULATOR_URL", emu.base_url)
        args = ["run", str(data), "--run-dir", str(run_dir), "--id-col", "id"]
        args += ["--model", "gemini-2.5-flash-lite"]
        assert main([*args, "--no-wait"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("gembatch: error:")
        assert run_id in err
        assert "--force" in err
        assert len(err.strip().splitlines()) == 1
        assert main(["status", str(run_dir)]) == 2
        assert "ledger is empty" in capsys.readouterr().err
        assert not emu.stats()["batches_created_by_display_name"]
        assert main([*args, "--force", "--no-wait"]) == 3  # a new run, submitted, not finished
    assert any(p.name.startswith("damaged-") for p in run_dir.iterdir())
