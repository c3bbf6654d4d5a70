"""Expected mistakes on the CLI and REST: one clear line or JSON error, the right code, no traceback,
nothing sent; `gembatch run` exit codes say how the run stands."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google import genai
from google.genai import types

import gembatch as gb
from gembatch.cli._runs import EXIT_FAILED_ARTICLES, EXIT_NOT_FINISHED, EXIT_OK, run_exit_code
from gembatch.runs.summary import RunSummary

MODEL = "gemini-2.5-flash-lite"


def _cli(args: list[str], emu: Any, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {
        "GEMBATCH_EMULATOR_URL": emu.base_url,
        "NO_PROXY": "127.0.0.1,localhost",
        "PATH": "",
        "GEMBATCH_CACHE_DIR": os.environ["GEMBATCH_CACHE_DIR"],
    }
    return subprocess.run(
        [sys.executable, "-m", "gembatch", *args], capture_output=True, text=True, env=env, timeout=120,
        check=False, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def emu():
    with gb.emulator.running(speed=50_000) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-errors") / "a.jsonl"
    gb.synthetic_articles(4, mean_chars=400, seed=5).to_json(path, orient="records", lines=True)
    return path


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["status", "batches/doesnotexist"], "no batch job batches/doesnotexist in this project"),
        (["results", "batches/doesnotexist"], "no batch job batches/doesnotexist in this project"),
        (["status", "batches/../../etc/passwd"], "is not a batch job name"),
        (["status", "batches/ABC?key=1"], "is not a batch job name"),
    ],
)
def test_job_mistakes_get_one_line_and_exit_2(emu, args, needle):
    before = dict(emu.stats()["requests"])
    proc = _cli(args, emu)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("gembatch: error:")]
    assert len(errors) == 1
    assert needle in errors[0]
    if "not a batch job name" in needle:
        assert emu.stats()["requests"] == before, "a malformed name is never sent"


def test_a_run_dir_that_is_a_file_is_refused(emu, data, tmp_path):
    target = tmp_path / "afile"
    target.write_text("keep me")
    proc = _cli(["run", str(data), "--run-dir", str(target), "--model", MODEL], emu)
    assert proc.returncode == 2
    assert "is a file, not a directory" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert target.read_text() == "keep me"


def test_a_closed_pipe_is_not_a_traceback(emu, data, tmp_path):
    run_dir = tmp_path / "run"
    assert _cli(["run", str(data), "--run-dir", str(run_dir), "--model", MODEL], emu).returncode == 0
    proc = _cli(["status", str(run_dir)], emu, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0
    reader = subprocess.Popen(
        [sys.executable, "-m", "gembatch", "status", str(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={"GEMBATCH_EMULATOR_URL": emu.base_url, "NO_PROXY": "127.0.0.1,localhost", "PATH": "",
               "GEMBATCH_CACHE_DIR": os.environ["GEMBATCH_CACHE_DIR"]},
    )  # fmt: skip
    assert reader.stdout is not None
    reader.stdout.close()  # like `| head -0`: the reader is gone before anything is written
    _, err = reader.communicate(timeout=60)
    assert b"Traceback" not in err
    assert reader.returncode in (0, 141)


def test_run_exit_codes(emu, data, tmp_path):
    run_dir = tmp_path / "codes"
    first = _cli(["run", str(data), "--run-dir", str(run_dir), "--model", MODEL, "--no-wait"], emu)
    assert first.returncode == EXIT_NOT_FINISHED, first.stderr
    done = _cli(["run", str(data), "--run-dir", str(run_dir), "--model", MODEL], emu)
    assert done.returncode == EXIT_OK, done.stderr


def _summary(**kw: Any) -> RunSummary:
    base: dict[str, Any] = {"run_id": "r", "model": MODEL, "tier": "tier1", "policy": "rolling",
                            "mode": "batch", "state": "done", "done": True, "articles": 10,
                            "succeeded": 10, "failed": 0, "pending": 0}  # fmt: skip
    return RunSummary(**{**base, **kw})


def test_exit_code_rule() -> None:
    assert run_exit_code(_summary()) == EXIT_OK
    assert run_exit_code(_summary(succeeded=8, failed=2)) == EXIT_FAILED_ARTICLES
    assert run_exit_code(_summary(state="budget", succeeded=5, pending=5)) == EXIT_NOT_FINISHED
    assert run_exit_code(_summary(state="running", done=False, pending=3, succeeded=7)) == EXIT_NOT_FINISHED


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_rest_maps_job_errors_to_4xx_and_5xx(emu, tmp_path):
    from gembatch.server import create_app

    token = "cli-errors-token"
    auth = {"Authorization": f"Bearer {token}"}
    app = create_app(tmp_path / "runs", token=token, client_factory=emu.client, resume=False)
    with TestClient(app) as api:
        answer = api.get("/v1/jobs/doesnotexist", headers=auth)
        assert answer.status_code == 404
        assert "no batch job" in answer.json()["detail"]
    dead = genai.Client(
        api_key="emulator",
        http_options=types.HttpOptions(
            base_url=f"http://127.0.0.1:{_closed_port()}", api_version="v1beta",
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )  # fmt: skip
    app = create_app(tmp_path / "runs2", token=token, client_factory=lambda: dead, resume=False)
    with TestClient(app) as api:
        answer = api.get("/v1/jobs/abc123", headers=auth)
        assert answer.status_code == 503, answer.text
        assert "cannot reach the service" in answer.json()["detail"]
        assert "Traceback" not in answer.text


def test_status_of_a_directory_without_a_run_says_how_to_start_one(emu, tmp_path):
    proc = _cli(["status", str(tmp_path)], emu)
    assert proc.returncode == 2
    assert "holds no gembatch run; start one with `gembatch run FILE --run-dir" in proc.stderr
    assert "Traceback" not in proc.stderr
