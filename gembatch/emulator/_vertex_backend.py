"""The ``vertex-emulator`` backend: the Vertex transport aimed at the emulator and the storage stand-ins.

``gb.connect(backend="vertex-emulator")`` rehearses a Vertex run on this machine: the emulator's
``batchPredictionJobs`` surface (the one at ``base_url`` or ``$GEMBATCH_EMULATOR_URL``, else one in
this process) and fake-gcs-server (the one at ``storage_url`` or ``$STORAGE_EMULATOR_HOST``, else
one started for this process), with the bucket created when missing. The BigQuery stand-in is
reached at ``bigquery_url`` or ``$BIGQUERY_EMULATOR_HOST``; with neither, one is started for this
process only when a ``dataset=`` is asked for (it takes seconds: a Cloud Storage-only rehearsal
never pays for it), and the dataset is created when missing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gembatch.emulator._vertex_bq import BIGQUERY_VAR, LocalBigQuery, bigquery_available, local_bigquery
from gembatch.emulator._vertex_gcs import STORAGE_VAR, FakeGcs, local_storage
from gembatch.errors import BackendError
from gembatch.transport.base import Timings
from gembatch.transport.vertex import DEFAULT_PREFIX, VertexTransport
from gembatch.transport.vertex_connect import vertex_client

__all__ = [
    "BUCKET", "DATASET", "LOCATION", "PROJECT", "bigquery_client", "create_vertex", "embedded_bigquery",
    "embedded_storage", "token_credentials",
]  # fmt: skip

PROJECT = "local"
LOCATION = "us-central1"
BUCKET = "gembatch-local"
DATASET = f"{PROJECT}.gembatch"
_lock = threading.Lock()
_gcs: list[FakeGcs] = []
_bq: list[LocalBigQuery] = []


def embedded_storage() -> str:
    """The URL of a fake-gcs-server started once for this process (stopped at exit)."""
    with _lock:
        if not _gcs:
            gcs = FakeGcs().start()
            atexit.register(gcs.stop)
            _gcs.append(gcs)
        return _gcs[0].url


def embedded_bigquery() -> str:
    """The URL of a BigQuery stand-in started once for this process (stopped at exit)."""
    with _lock:
        if not _bq:
            bq = LocalBigQuery(PROJECT).start()
            atexit.register(bq.stop)
            _bq.append(bq)
        return _bq[0].url


def bigquery_client(project: str = PROJECT, url: str | None = None, dataset: str | None = None) -> Any:
    """A BigQuery client for the stand-in (``url``, ``$BIGQUERY_EMULATOR_HOST`` or one started now).

    The in-process emulator then finds the same stand-in through ``$BIGQUERY_EMULATOR_HOST``;
    ``dataset`` (``project.dataset``) is created when missing.
    """
    url = url or os.environ.get(BIGQUERY_VAR, "").strip() or embedded_bigquery()
    os.environ.setdefault(BIGQUERY_VAR, url)
    client = local_bigquery(project, url)
    if dataset:
        client.create_dataset(dataset, exists_ok=True)
    return client


def token_credentials() -> Any:
    """OAuth credentials with a fixed token and no expiry: the SDK sends them without refreshing."""
    import google.oauth2.credentials

    return google.oauth2.credentials.Credentials(token="emulator")


def ensure_bucket(storage: Any, bucket: str) -> None:
    if storage.lookup_bucket(bucket) is None:
        storage.create_bucket(bucket)


def create_vertex(
    *,
    base_url: str | None = None,
    storage_url: str | None = None,
    project: str = PROJECT,
    location: str = LOCATION,
    bucket: str = BUCKET,
    prefix: str = DEFAULT_PREFIX,
    timings: Timings | None = None,
    bigquery_url: str | None = None,
    dataset: str | None = None,
) -> VertexTransport:
    """A Vertex transport for the emulator at ``base_url`` and the storage stand-ins.

    ``dataset`` (``"project.dataset"``, or a bare dataset name in ``project``) is where BigQuery
    tables of runs go; asking for it (or giving ``bigquery_url``) makes the BigQuery client.
    """
    storage_url = storage_url or os.environ.get(STORAGE_VAR, "").strip() or embedded_storage()
    os.environ.setdefault(STORAGE_VAR, storage_url)  # the in-process emulator reads it
    url = base_url or os.environ.get("GEMBATCH_EMULATOR_URL", "").strip()
    if not url:
        raise BackendError("no emulator URL: pass base_url= or set GEMBATCH_EMULATOR_URL")
    storage = local_storage(project, storage_url)
    ensure_bucket(storage, bucket)
    client = vertex_client(project, location, credentials=token_credentials(), base_url=url.rstrip("/"))
    if dataset and "." not in dataset:
        dataset = f"{project}.{dataset}"
    bigquery_url = bigquery_url or os.environ.get(BIGQUERY_VAR, "").strip() or None
    bigquery = bigquery_client(project, bigquery_url, dataset) if dataset or bigquery_url else None
    return VertexTransport(client, storage, bucket=bucket, prefix=prefix, name="vertex-emulator",
                           timings=timings, emulated=True, bigquery=bigquery, dataset=dataset)  # fmt: skip


def serve_storage(state_dir: Path, serve: Callable[[], int]) -> int:
    """Run ``serve`` with fake-gcs-server and the BigQuery stand-in beside it; ``vertex.json`` says where."""
    from gembatch.emulator._persist import write_json

    with contextlib.ExitStack() as stack:
        gcs = stack.enter_context(FakeGcs(root=state_dir / "storage"))  # objects outlive a restart
        os.environ[STORAGE_VAR] = gcs.url
        ensure_bucket(local_storage(PROJECT, gcs.url), BUCKET)
        info = {"storage_url": gcs.url, "vertex_project": PROJECT, "vertex_location": LOCATION,
                "vertex_bucket": BUCKET}  # fmt: skip
        if bigquery_available():  # tables outlive a restart too
            bq = stack.enter_context(LocalBigQuery(PROJECT, root=state_dir / "bigquery"))
            os.environ[BIGQUERY_VAR] = info["bigquery_url"] = bq.url
        write_json(state_dir / "vertex.json", info)
        try:
            return serve()
        finally:
            (state_dir / "vertex.json").unlink(missing_ok=True)
