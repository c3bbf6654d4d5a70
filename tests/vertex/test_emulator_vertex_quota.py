"""Vertex has no tier quota on enqueued tokens: the emulator's Vertex half never applies one."""

from __future__ import annotations

import json
import uuid

import pytest
from google.genai import errors
from runs_support import MODEL, small_catalog
from test_emulator_bq_serve import PROJECT, _vertex_client

from gembatch.emulator import running


def test_a_vertex_job_over_the_developer_tier_quota_is_accepted(bigquery):
    from google.cloud import bigquery as bq

    text = "Summarise: " + "the council met again on Tuesday to discuss the new bridge. " * 40
    request = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    with running(catalog=small_catalog(200), speed=20_000) as emu:  # a Tier-1 quota of 200 tokens
        with pytest.raises(errors.ClientError) as refused:  # the Developer API refuses it ...
            emu.client().batches.create(model=MODEL, src=[request])
        assert refused.value.code == 429

        bigquery.create_dataset(f"{PROJECT}.quota", exists_ok=True)
        table = f"{PROJECT}.quota.in_{uuid.uuid4().hex[:8]}"
        bigquery.create_table(bq.Table(table, schema=[bq.SchemaField("request", "STRING")]))
        assert bigquery.insert_rows_json(table, [{"request": json.dumps(request)}] * 3) == []
        client = _vertex_client(emu.base_url)
        job = client.batches.create(
            model=MODEL, src=f"bq://{table}", config={"dest": f"bq://{PROJECT}.quota"}
        )
        assert job.state.value in (
            "JOB_STATE_PENDING",
            "JOB_STATE_QUEUED",
            "JOB_STATE_RUNNING",
        )  # ... not Vertex
