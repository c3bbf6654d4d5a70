"""The real server process (uvicorn) against the out-of-process emulator, restarted mid-run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import gembatch as gb

pytestmark = pytest.mark.slow

TOKEN = "process-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", **extra}
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        env.pop(var, None)
    return env


@pytest.fixture
def emulator_url(tmp_path: Path) -> Iterator[str]:
    state = tmp_path / "emu"
    cmd = [sys.executable, "-m", "gembatch", "emulator"]
    subprocess.run([*cmd, "start", "--state-dir", str(state), "--speed", "300"], env=_env(), check=True)
    try:
        yield json.loads((state / "server.json").read_text())["base_url"]
    finally:
        subprocess.run([*cmd, "stop", "--state-dir", str(state)], env=_env(), check=False)


class Server:
    def __init__(self, runs_dir: Path, emulator_url: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runs_dir = runs_dir
        self.env = _env(GEMBATCH_SERVER_TOKEN=TOKEN, GEMBATCH_EMULATOR_URL=emulator_url)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = runs_dir.parent / "server.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gembatch",
                    "serve",
                    "--port",
                    str(self.port),
                    "--runs-dir",
                    str(self.runs_dir),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers=AUTH, timeout=30, **kw)


def test_server_restart_mid_run_resumes_and_serves_complete_results(
    tmp_path: Path, emulator_url: str
) -> None:
    arts = gb.synthetic_articles(60, mean_chars=800, seed=11)
    data = tmp_path / "articles.jsonl"
    arts.to_json(data, orient="records", lines=True)
    server = Server(tmp_path / "runs", emulator_url)
    server.start()
    try:
        with data.open("rb") as fh:
            resp = httpx.post(
                server.url + "/v1/runs",
                headers=AUTH,
                timeout=60,
                files={"file": ("articles.jsonl", fh, "application/jsonl")},
                data={"params": json.dumps({"run_id": "restart-me", "prompt": "Summarise: {text}"})},
            )
        assert resp.status_code == 201, resp.text
        assert not resp.json()["summary"]["done"]
        assert httpx.get(server.url + "/v1/runs", timeout=5).status_code == 401
        server.stop()  # mid-run: the job is still queued on the emulator

        server.start()  # resumes the run from its ledger
        deadline = time.monotonic() + 180
        while not (summary := server.get("/v1/runs/restart-me").json()["summary"])["done"]:
            assert time.monotonic() < deadline, summary
            time.sleep(0.3)
        assert summary["succeeded"] == 60
        lines = server.get("/v1/runs/restart-me/results", params={"format": "jsonl"}).text.splitlines()
        got = sorted(json.loads(line)["article_id"] for line in lines)
        assert got == sorted(arts["id"].astype(str))
        stats = httpx.get(emulator_url + "/emulator/v1/stats", timeout=5).json()
        mine = {k: v for k, v in stats["batches_created_by_display_name"].items() if "restart-me" in k}
        assert mine
        assert set(mine.values()) == {1}, mine  # the restart never resubmitted a job
    finally:
        server.stop()
