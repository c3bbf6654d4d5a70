"""Vertex expiry on the emulated clock; ``gembatch emulator start --vertex`` serving all three services."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
from google import genai
from google.genai import types

from gembatch.emulator import running
from gembatch.emulator._vertex_backend import LOCATION, PROJECT, token_credentials

MODEL = "gemini-2.5-flash-lite"
HOUR = 3600.0


def _vertex_client(base_url: str) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=token_credentials(),
        http_options=types.HttpOptions(base_url=base_url),
    )


def _input_table(bigquery) -> str:
    from google.cloud import bigquery as bq

    bigquery.create_dataset(f"{PROJECT}.bq_expiry", exists_ok=True)
    name = f"{PROJECT}.bq_expiry.in_{uuid.uuid4().hex[:8]}"
    bigquery.create_table(bq.Table(name, schema=[bq.SchemaField("request", "STRING")]))
    request = {"contents": [{"role": "user", "parts": [{"text": "Summarise: a slow day in Northbrook."}]}]}
    assert bigquery.insert_rows_json(name, [{"request": json.dumps(request)}]) == []
    return f"bq://{name}"


def test_a_job_queued_72_hours_expires(bigquery):
    stuck = {"queue_median_s": 5 * 24 * HOUR, "queue_sigma": 0.0}  # would wait five days to start
    with running(profile=stuck, speed=60) as emu:  # a slow clock: wall-time stalls cannot reach hours
        client = _vertex_client(emu.base_url)
        src = _input_table(bigquery)
        job = client.batches.create(model=MODEL, src=src, config={"dest": f"bq://{PROJECT}.bq_expiry"})
        emu.advance(49 * HOUR)  # past the Developer API's 48 h: a Vertex job still waits
        assert client.batches.get(name=job.name).state.value == "JOB_STATE_PENDING"
        emu.advance(22 * HOUR)
        assert client.batches.get(name=job.name).state.value == "JOB_STATE_PENDING"
        emu.advance(2 * HOUR)
        expired = client.batches.get(name=job.name)
        assert expired.state.value == "JOB_STATE_EXPIRED"
        assert expired.done
        assert "72 hours" in expired.error.message
        assert expired.output_info is None


def test_a_job_running_24_hours_fails(bigquery):
    slow = {"queue_median_s": 40 * HOUR, "queue_sigma": 0.0, "tokens_per_s": 1e-4, "proc_sigma": 0.0}
    with running(profile=slow, speed=60) as emu:
        client = _vertex_client(emu.base_url)
        src = _input_table(bigquery)
        job = client.batches.create(model=MODEL, src=src, config={"dest": f"bq://{PROJECT}.bq_expiry"})
        emu.advance(41 * HOUR)
        assert client.batches.get(name=job.name).state.value == "JOB_STATE_RUNNING"
        emu.advance(22 * HOUR)  # 63 h after create, 23 h running: still going
        running_job = client.batches.get(name=job.name)
        assert running_job.state.value == "JOB_STATE_RUNNING"
        assert running_job.start_time is not None
        emu.advance(2 * HOUR)
        failed = client.batches.get(name=job.name)
        assert failed.state.value == "JOB_STATE_FAILED"
        assert "24 hours" in failed.error.message
        assert failed.done


def _listening(url: str) -> bool:
    m = re.match(r"http://127\.0\.0\.1:(\d+)$", url)
    assert m, url
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", int(m.group(1)))) == 0


def _gembatch(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run([sys.executable, "-m", "gembatch", *args], capture_output=True, text=True, env=env,
                          timeout=180, check=False)  # fmt: skip


def test_emulator_start_vertex_serves_all_three(tmp_path: Path, bq_url):  # bq_url: the stand-in can run here
    from gembatch.emulator._vertex_bq import local_bigquery
    from gembatch.emulator._vertex_gcs import local_storage

    state = tmp_path / "emu"
    started = _gembatch("emulator", "start", "--vertex", "--state-dir", str(state), "--speed", "20000")
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        out = started.stdout
        emulator_url = re.search(r"GEMBATCH_EMULATOR_URL=(\S+)", out).group(1)
        storage_url = re.search(r"STORAGE_EMULATOR_HOST=([^\s,]+)", out).group(1)
        bigquery_url = re.search(r"BIGQUERY_EMULATOR_HOST=(\S+)", out).group(1)
        assert len({emulator_url, storage_url, bigquery_url}) == 3
        status = _gembatch("emulator", "status", "--state-dir", str(state))
        assert status.returncode == 0, status.stderr + status.stdout
        assert f"STORAGE_EMULATOR_HOST={storage_url}," in status.stdout
        assert f"BIGQUERY_EMULATOR_HOST={bigquery_url} " in status.stdout

        assert httpx.get(f"{emulator_url}/emulator/v1/health").status_code == 200
        assert local_storage(PROJECT, storage_url).lookup_bucket("gembatch-local") is not None
        bigquery = local_bigquery(PROJECT, bigquery_url)
        src = _input_table(bigquery)
        client = _vertex_client(emulator_url)
        job = client.batches.create(model=MODEL, src=src, config={"dest": f"bq://{PROJECT}.bq_cli"})
        for _ in range(300):
            job = client.batches.get(name=job.name)
            if job.done:
                break
            httpx.post(f"{emulator_url}/emulator/v1/clock", json={"advance_seconds": 3600})
        assert job.state.value == "JOB_STATE_SUCCEEDED"
        table = f"{PROJECT}.bq_cli.{job.output_info.bigquery_output_table}"
        assert [row["status"] for row in bigquery.list_rows(table)] == [""]
    finally:
        stopped = _gembatch("emulator", "stop", "--state-dir", str(state))
    assert "emulator stopped" in stopped.stdout
    assert not _listening(emulator_url)
    assert not _listening(bigquery_url)  # stopped with the emulator
    assert not _listening(storage_url)
