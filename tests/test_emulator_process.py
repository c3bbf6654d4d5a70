"""The emulator as its own process: start, status, stop, and a restart that keeps jobs and files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from emulator_helpers import MODEL, jsonl, request
from google import genai
from google.genai import types

from gembatch.emulator import Emulator
from gembatch.errors import BackendError

pytestmark = pytest.mark.slow


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gembatch", "emulator", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _client(base_url: str) -> genai.Client:
    return genai.Client(api_key="x", http_options=types.HttpOptions(base_url=base_url, api_version="v1beta"))


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "emu"
    yield path
    _cli("stop", "--state-dir", str(path))


def test_start_status_stop_and_restart_keeps_jobs(state_dir: Path) -> None:
    profile = state_dir.parent / "slow.toml"
    profile.write_text("queue_median_s = 36000.0\nqueue_sigma = 0.0\n")  # 10 emulated hours in PENDING
    started = _cli("start", "--state-dir", str(state_dir), "--speed", "600", "--profile", str(profile))
    assert started.returncode == 0, started.stderr
    info = json.loads((state_dir / "server.json").read_text())
    assert info["base_url"] in started.stdout
    status = _cli("status", "--state-dir", str(state_dir))
    assert status.returncode == 0
    with pytest.raises(BackendError, match="in use"):
        Emulator(state_dir=state_dir)  # one emulator per state directory
    assert str(info["pid"]) in status.stdout
    assert info["base_url"] in status.stdout

    client = _client(info["base_url"])
    f = client.files.upload(file=io.BytesIO(jsonl(3)), config={"mime_type": "application/jsonl"})
    httpx.post(
        f"{info['base_url']}/emulator/v1/faults",
        json={"op": "batch", "display_name": "x", "outcome": "FAILED"},
    )
    slow = client.batches.create(model=MODEL, src=f.name or "", config={"display_name": "keep"})
    failing = client.batches.create(model=MODEL, src=[request("x")], config={"display_name": "x"})
    assert slow.name is not None
    assert failing.name is not None
    assert client.batches.get(name=slow.name).state.name == "JOB_STATE_PENDING"

    assert _cli("stop", "--state-dir", str(state_dir)).returncode == 0
    assert _cli("status", "--state-dir", str(state_dir)).returncode == 1
    assert not (state_dir / "server.json").exists()

    again = _cli("start", "--state-dir", str(state_dir))
    assert again.returncode == 0, again.stderr
    info2 = json.loads((state_dir / "server.json").read_text())
    assert info2["port"] == info["port"]  # the last port is reused, so saved base URLs keep working
    client = _client(info2["base_url"])
    assert client.files.get(name=f.name or "").size_bytes == len(jsonl(3))
    names = {b.name for b in client.batches.list()}
    assert names == {slow.name, failing.name}
    stats = httpx.get(f"{info2['base_url']}/emulator/v1/stats").json()
    assert stats["clock"]["speed"] == 600  # saved options come back
    assert stats["profile"] == "slow"
    assert client.batches.get(name=slow.name).state.name == "JOB_STATE_PENDING"
    # Jobs keep progressing in emulated time after the restart.
    httpx.post(f"{info2['base_url']}/emulator/v1/clock", json={"advance_seconds": 12 * 3600})
    for _ in range(600):
        done = client.batches.get(name=slow.name)
        if done.done:
            break
        httpx.post(f"{info2['base_url']}/emulator/v1/clock", json={"advance_seconds": 600})
    assert done.state is not None
    assert done.state.name == "JOB_STATE_SUCCEEDED"
    assert done.dest is not None
    lines = client.files.download(file=done.dest.file_name or "").splitlines()
    assert [json.loads(x)["key"] for x in lines] == ["k0", "k1", "k2"]
    assert client.batches.get(name=failing.name).state.name == "JOB_STATE_FAILED"


def test_serve_in_foreground_module_entry(tmp_path: Path) -> None:
    state = tmp_path / "fg"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gembatch.emulator", "serve", "--state-dir", str(state), "--speed", "1000"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "results are emulated" in line
        info = json.loads((state / "server.json").read_text())
        client = _client(info["base_url"])
        assert client.models.count_tokens(model=MODEL, contents="hello").total_tokens == 1
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert not (state / "server.json").exists()
