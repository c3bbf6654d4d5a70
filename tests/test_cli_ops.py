"""The CLI a script can drive: jobs, prepare, wait, seed-style single jobs, errors in sight, a local
emulator that outlives one command, and loopback connections that ignore proxy settings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import gembatch as gb
from gembatch.cli import main
from gembatch.emulator import running

MODEL = "gemini-2.5-flash-lite"
KEY_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


@pytest.fixture
def emu_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    with running(speed=50_000) as emu:
        monkeypatch.setenv("GEMBATCH_EMULATOR_URL", emu.base_url)
        for var in KEY_VARS:
            monkeypatch.delenv(var, raising=False)
        yield emu


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "a.jsonl"
    gb.synthetic_articles(8, mean_chars=500, seed=4).to_json(path, orient="records", lines=True)
    return path


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed CLI in a fresh process: no key, no emulator URL, no proxy exceptions unless given."""
    base = {k: v for k, v in os.environ.items() if k not in (*KEY_VARS, "GEMBATCH_EMULATOR_URL")}
    proxy_vars = ("NO_PROXY", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
    for var in proxy_vars:
        base.pop(var, None)
    base.update({"GEMBATCH_EMULATOR_SPEED": "50000", "NO_PROXY": "127.0.0.1,localhost", **env})
    base = {k: v for k, v in base.items() if v != ""}  # "" unsets
    return subprocess.run(
        [sys.executable, "-m", "gembatch", *args], capture_output=True, text=True, env=base, cwd=cwd,
        timeout=240, check=False,
    )  # fmt: skip


def test_jobs_bare_ids_results_name_and_submit_wait(emu_env: Any, data: Path, tmp_path: Path, capsys) -> None:
    assert main(["submit", str(data), "--name", "seed-job", "--model", MODEL, "--wait", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["state"] == "BATCH_STATE_SUCCEEDED"
    bare = info["name"].removeprefix("batches/")
    assert bare != info["name"]

    assert main(["jobs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    mine = [r for r in rows if r["name"] == info["name"]]
    assert len(mine) == 1
    assert mine[0]["display_name"] == "seed-job"
    assert mine[0]["state"] == "succeeded"
    assert mine[0]["age_s"] is not None
    assert mine[0]["age_s"] >= 0
    assert main(["jobs"]) == 0
    table = capsys.readouterr().out
    assert info["name"] in table
    assert "seed-job" in table
    assert "succeeded" in table
    assert main(["jobs", "--state", "running", "--json"]) == 0
    assert all(r["state"] == "running" for r in json.loads(capsys.readouterr().out))
    assert main(["jobs", "--state", "sideways"]) == 2
    assert "--state 'sideways'" in capsys.readouterr().err

    assert main(["status", bare]) == 0  # a bare id is the same job as batches/ID
    assert json.loads(capsys.readouterr().out)["name"] == info["name"]
    out = tmp_path / "seed.csv"
    assert main(["results", bare, str(out)]) == 0  # the output named positionally, seed-style
    assert len(pd.read_csv(out)) == 8
    assert main(["status", "nosuchjob"]) == 2
    assert "no batch job batches/nosuchjob" in capsys.readouterr().err

    assert main(["submit", str(data), "--name", "quick", "--model", MODEL]) == 0  # no --wait: the name
    assert capsys.readouterr().out.strip().startswith("batches/")


def test_prepare_writes_jsonl_and_plan_and_submits_nothing(
    emu_env: Any, data: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "prepared"
    args = ["prepare", str(data), "--model", MODEL, "--chunk-tokens", "400", "--prompt", "Sum up: {text}"]
    assert main([*args, "-o", str(out), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    plan = json.loads(Path(written["plan"]).read_text())
    assert len(written["files"]) == len(plan["chunks"]) > 1
    lines = [json.loads(x) for f in written["files"] for x in Path(f).read_text().splitlines()]
    assert len(lines) == len({line["key"] for line in lines}) == 8
    assert "Sum up: " in lines[0]["request"]["contents"][0]["parts"][0]["text"]
    assert emu_env.stats()["jobs"] == {}  # nothing was submitted
    (tmp_path / "afile").write_text("x")
    assert main([*args, "-o", str(tmp_path / "afile")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_wait_exit_code_is_the_outcome(emu_env: Any, data: Path, tmp_path: Path, capsys) -> None:
    run_dir = str(tmp_path / "run")
    assert main(["run", str(data), "--run-dir", run_dir, "--model", MODEL, "--no-wait"]) == 3
    assert main(["status", run_dir]) == 3  # still in flight
    capsys.readouterr()
    assert main(["wait", run_dir, "--json", "--max-wait", "120"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["state"], summary["succeeded"]) == ("done", 8)
    assert main(["status", run_dir, "--json"]) == 0
    assert main(["wait", str(tmp_path / "nothing")]) == 2


def test_set_deadline_by_directory(emu_env: Any, data: Path, tmp_path: Path, capsys) -> None:
    run_dir = str(tmp_path / "run")
    assert main(["run", str(data), "--run-dir", run_dir, "--model", MODEL, "--no-wait"]) == 3
    capsys.readouterr()
    before = time.time()
    assert main(["set-deadline", run_dir, "2h", "--usd", "1.5", "--json"]) == 0
    at = json.loads(capsys.readouterr().out)["deadline"]
    assert before + 7190 < at < time.time() + 7210
    assert gb.Run.open(run_dir).summary().deadline_at == pytest.approx(at)
    assert main(["set-deadline", run_dir, "none"]) == 0
    assert "deadline removed" in capsys.readouterr().out
    assert gb.Run.open(run_dir).summary().deadline_at is None
    assert main(["set-deadline", run_dir, "soonish"]) == 2
    err = capsys.readouterr().err
    assert "deadline" in err
    assert "Traceback" not in err


def test_a_run_resumes_across_cli_processes_without_a_key(data: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = _cli(["run", str(data), "--run-dir", str(run_dir), "--model", MODEL, "--no-wait"], tmp_path)
    assert first.returncode == 3, first.stderr
    assert "emulator" in first.stderr
    assert (run_dir / ".emulator").is_dir()  # the emulator's jobs are kept with the run
    submitted = gb.Run.open(run_dir).chunks()
    names = set(submitted["batch_name"].dropna())
    assert names, submitted

    status = _cli(["status", str(run_dir), "--json"], tmp_path)
    assert status.returncode == 3, status.stderr
    again = _cli(["resume", str(run_dir), "--max-wait", "180"], tmp_path)
    assert again.returncode == 0, again.stderr
    chunks = gb.Run.open(run_dir).chunks()
    assert int(chunks["attempt"].max()) == 1  # no job was lost and submitted again
    assert names <= set(chunks["batch_name"].dropna())
    kinds = set(gb.Run.open(run_dir).events()["kind"])
    assert not kinds & {"job_missing", "create_unknown"}
    assert gb.Run.open(run_dir).summary().succeeded == 8


def test_loopback_emulator_ignores_proxy_settings(data: Path, tmp_path: Path) -> None:
    bogus = "http://127.0.0.1:9"  # nothing listens there: a request sent through it fails
    proxies = {"HTTPS_PROXY": bogus, "HTTP_PROXY": bogus, "https_proxy": bogus, "http_proxy": bogus,
               "ALL_PROXY": bogus, "NO_PROXY": "", "no_proxy": ""}  # fmt: skip
    run_dir = tmp_path / "run"
    args = ["run", str(data), "--run-dir", str(run_dir), "--model", MODEL, "--max-wait", "180"]
    proc = _cli(args, tmp_path, **proxies)
    assert proc.returncode == 0, proc.stderr
    assert gb.Run.open(run_dir).summary().succeeded == 8
    with running(speed=50_000) as emu:  # a separate emulator process, reached by URL
        served = _cli(["submit", str(data), "--name", "p", "--model", MODEL, "--wait", "--max-wait", "120"],
                      tmp_path, GEMBATCH_EMULATOR_URL=emu.base_url, **proxies)  # fmt: skip
    assert served.returncode == 0, served.stderr


def test_in_process_emulator_clients_ignore_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    with running() as emu:
        assert emu.client().models.count_tokens(model=MODEL, contents="Two words.").total_tokens > 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_status_shows_the_last_error_after_a_refused_connection(data: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    run_dir = tmp_path / "run"
    proc = _cli(["run", str(data), "--run-dir", str(run_dir), "--model", MODEL, "--no-wait"], tmp_path,
                GEMBATCH_EMULATOR_URL=url)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "cannot reach the service: connection refused" in proc.stderr  # logged as it happens
    status = _cli(["status", str(run_dir)], tmp_path)
    assert status.returncode == 3
    assert "last error: cannot reach the service: connection refused — proxy settings?" in status.stdout
    quiet = _cli(["-q", "resume", str(run_dir), "--no-wait"], tmp_path, GEMBATCH_EMULATOR_URL=url)
    assert quiet.returncode == 3
    assert "connection refused" not in quiet.stderr  # -q: errors only, and a retried refusal is a warning
    loud = _cli(["-v", "resume", str(run_dir), "--no-wait"], tmp_path, GEMBATCH_EMULATOR_URL=url)
    assert "cannot reach the service" in loud.stderr


def test_progress_lines_say_why_a_run_waits() -> None:
    import time

    from gembatch.presentation.summary_view import summary_line, summary_text, trouble_text
    from gembatch.runs.log import plain_problem
    from gembatch.runs.summary import RunSummary

    now = time.time()
    base = {"run_id": "r", "model": "m", "tier": "tier1", "policy": "rolling", "mode": "batch",
            "state": "running", "done": False, "articles": 4, "succeeded": 0, "failed": 0,
            "pending": 4}  # fmt: skip
    refusal = "submit_refused: 429 RESOURCE_EXHAUSTED: quota; backing off 18.9s, plan kept"
    quota = RunSummary(**base, backoff_until=now + 18.9, last_error_at=now, last_error=refusal)
    line = summary_line(quota)
    assert "backing off 1" in line
    assert line.endswith(": 429 quota")
    connect = "transient_error: sweep: ConnectError: [Errno 111] Connection refused"
    refused = RunSummary(**base, last_error_at=now, last_error=connect)
    words = "last error: cannot reach the service: connection refused — proxy settings?"
    assert trouble_text(refused) == words
    assert "last error: cannot reach the service" in summary_text(refused, "runs/r")
    assert trouble_text(RunSummary(**{**base, "done": True, "state": "done"}, last_error="x: y")) == ""
    assert plain_problem("error: something odd") == "error: something odd"  # unknown: left as it was
