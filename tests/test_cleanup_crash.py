"""Crash-safe cleanup: SIGKILL `gembatch run` at the worst moments for cleanup, resume to the end, and
find nothing of the run left at the emulator (asked over its REST API through the SDK), no duplicate
job, every article accounted for.

The emulator runs out of process (``gembatch emulator start``); the test-only hook
``GEMBATCH_TEST_CRASH_AT=<point>`` (gembatch/runs/crash.py) makes the CLI SIGKILL itself. A catalogue
override lowers the model's inline limit so every chunk goes through an uploaded file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from google import genai
from runs_support import read_ledger

import gembatch as gb

pytestmark = pytest.mark.slow

N = 40
MODEL = "gemini-2.5-flash-lite"


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "GEMBATCH_EMULATOR_URL": url, "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("GEMBATCH_TEST_CRASH_AT", None)
    env.pop("GEMINI_API_KEY", None)
    env.pop("GOOGLE_API_KEY", None)
    return {**env, **extra}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    state = tmp_path_factory.mktemp("emu")
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    cli = [sys.executable, "-m", "gembatch", "emulator"]
    subprocess.run([*cli, "start", "--state-dir", str(state), "--speed", "1000"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    url = json.loads((state / "server.json").read_text())["base_url"]
    try:
        yield url
    finally:
        subprocess.run([*cli, "stop", "--state-dir", str(state)], env=env, check=False, capture_output=True)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    data = root / "articles.jsonl"
    gb.synthetic_articles(N, mean_chars=900, seed=11).to_json(data, orient="records", lines=True)
    catalog = root / "catalog.json"  # every chunk is uploaded as a file, never sent inline
    catalog.write_text(json.dumps({MODEL: {"inline_limit_bytes": 500_100}}))
    return data, catalog


def _gembatch_run(
    url: str, inputs: tuple[Path, Path], run_dir: Path, crash: str | None
) -> subprocess.CompletedProcess[str]:
    data, catalog = inputs
    env = _env(url, **({"GEMBATCH_TEST_CRASH_AT": crash} if crash else {}))
    args = [sys.executable, "-m", "gembatch", "run", str(data), "--run-dir", str(run_dir), "--model", MODEL,
            "--catalog", str(catalog), "--chunk-tokens", "2000", "--max-wait", "120"]  # fmt: skip
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)


def _held_at_emulator(url: str, run_id: str) -> tuple[list[str], list[str]]:
    """The run's files and jobs the emulator still lists (display names under the run's prefix)."""
    client = genai.Client(api_key="emulator", http_options={"base_url": url})
    prefix = f"gembatch/{run_id}/"
    files = [f.name for f in client.files.list() if (f.display_name or "").startswith(prefix)]
    jobs = [j.name for j in client.batches.list() if (j.display_name or "").startswith(prefix)]
    return files, jobs


def _all_files(url: str) -> set[str]:
    client = genai.Client(api_key="emulator", http_options={"base_url": url})
    return {str(f.name) for f in client.files.list()}


@pytest.mark.parametrize("point", ["uploaded", "collected", "delete"])
def test_killed_cli_leaves_nothing_at_the_service_after_resume(emulator, inputs, tmp_path, point):
    run_dir = tmp_path / "run"
    first = _gembatch_run(emulator, inputs, run_dir, crash=point)
    assert first.returncode == -signal.SIGKILL, f"never reached {point!r}: {first.stderr[-2000:]}"
    second = _gembatch_run(emulator, inputs, run_dir, crash=None)
    assert "Traceback" not in second.stderr
    assert second.returncode == 0, second.stderr[-3000:]

    run = gb.Run.open(run_dir, client=gb.connect(base_url=emulator, prefer="emulator"))
    files, jobs = _held_at_emulator(emulator, run.run_id)
    assert files == [], f"input files left after a crash at {point}: {files}"
    assert jobs == [], f"jobs left after a crash at {point}: {jobs}"
    outputs = {r[0] for r in read_ledger(run, "SELECT output_file FROM chunks WHERE output_file IS NOT NULL")}
    assert outputs, "the jobs wrote output files"
    assert not outputs & _all_files(emulator), "output files of the run are still at the service"

    stats = httpx.get(f"{emulator}/emulator/v1/stats").json()
    mine = {k: v for k, v in stats["batches_created_by_display_name"].items() if f"/{run.run_id}/" in k}
    assert mine
    assert set(mine.values()) == {1}, f"duplicate jobs after a crash at {point}: {mine}"
    deleted = {
        r[0] for r in read_ledger(run, "SELECT name FROM cleanup WHERE state='done' AND kind!='upload'")
    }
    assert outputs <= deleted, "the run deleted every output file itself (none merely expired)"
    orphans = 1 if point == "uploaded" else 0  # the file uploaded just before the kill
    files_deleted = read_ledger(run, "SELECT COUNT(*) FROM cleanup WHERE kind='file' AND state='done'")
    assert files_deleted[0][0] == 2 * len(run.chunks()) + orphans, "an input and an output per job, + orphan"
    summary = run.summary()
    assert (summary.succeeded, summary.failed, summary.pending) == (N, 0, 0)
    assert summary.leftovers == 0
    pending = read_ledger(run, "SELECT COUNT(*) FROM cleanup WHERE state='pending'")
    assert [tuple(r) for r in pending] == [(0,)]


def test_cleanup_command_lists_then_deletes_what_a_crash_left(emulator, inputs, tmp_path):
    """After a crash right after an upload, `gembatch cleanup --dry-run` lists the orphan and
    deletes nothing; `gembatch cleanup` deletes it; the emulator no longer lists it."""
    run_dir = tmp_path / "run"
    assert _gembatch_run(emulator, inputs, run_dir, crash="uploaded").returncode == -signal.SIGKILL
    run = gb.Run.open(run_dir)
    env = _env(emulator)
    files, _ = _held_at_emulator(emulator, run.run_id)
    assert len(files) == 1, "the crash left exactly the one uploaded file"
    assert run.summary().leftovers == 1  # the upload's intent is still pending

    cli = [sys.executable, "-m", "gembatch", "cleanup", str(run_dir)]
    dry = subprocess.run([*cli, "--dry-run", "--json"], env=env, capture_output=True, text=True, check=False)
    assert dry.returncode == 0, dry.stderr
    listed = json.loads(dry.stdout)
    assert [i["name"] for i in listed["deleted"]] == files
    assert listed["dry_run"] is True
    assert _held_at_emulator(emulator, run.run_id)[0] == files, "a dry run deletes nothing"

    real = subprocess.run(cli, env=env, capture_output=True, text=True, check=False)
    assert real.returncode == 0, real.stderr
    assert "Traceback" not in real.stderr
    assert files[0] in real.stdout, real.stdout + real.stderr
    assert "deleted 1" in real.stdout
    assert _held_at_emulator(emulator, run.run_id) == ([], [])
    assert gb.Run.open(run_dir).summary().leftovers == 0
    assert files[0] not in _all_files(emulator)
