"""The ``vertex-emulator`` backend: the Vertex transport aimed at the emulator and a Cloud Storage stand-in.

``gb.connect(backend="vertex-emulator")`` rehearses a Vertex run on this machine: the emulator's
``batchPredictionJobs`` surface (the one at ``base_url`` or ``$GEMBATCH_EMULATOR_URL``, else one in
this process) and fake-gcs-server (the one at ``storage_url`` or ``$STORAGE_EMULATOR_HOST``, else
one started for this process), with the bucket created when missing.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gembatch.emulator._vertex_gcs import STORAGE_VAR, FakeGcs, local_storage
from gembatch.errors import BackendError
from gembatch.transport.base import Timings
from gembatch.transport.vertex import DEFAULT_PREFIX, VertexTransport, vertex_client

__all__ = ["BUCKET", "LOCATION", "PROJECT", "create_vertex", "embedded_storage", "token_credentials"]

PROJECT = "local"
LOCATION = "us-central1"
BUCKET = "gembatch-local"
_lock = threading.Lock()
_gcs: list[FakeGcs] = []


def embedded_storage() -> str:
    """The URL of a fake-gcs-server started once for this process (stopped at exit)."""
    with _lock:
        if not _gcs:
            gcs = FakeGcs().start()
            atexit.register(gcs.stop)
            _gcs.append(gcs)
        return _gcs[0].url


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
) -> VertexTransport:
    """A Vertex transport for the emulator at ``base_url`` and the Cloud Storage stand-in."""
    storage_url = storage_url or os.environ.get(STORAGE_VAR, "").strip() or embedded_storage()
    os.environ.setdefault(STORAGE_VAR, storage_url)  # the in-process emulator reads it
    url = base_url or os.environ.get("GEMBATCH_EMULATOR_URL", "").strip()
    if not url:
        raise BackendError("no emulator URL: pass base_url= or set GEMBATCH_EMULATOR_URL")
    storage = local_storage(project, storage_url)
    ensure_bucket(storage, bucket)
    client = vertex_client(project, location, credentials=token_credentials(), base_url=url.rstrip("/"))
    return VertexTransport(
        client, storage, bucket=bucket, prefix=prefix, name="vertex-emulator", timings=timings, emulated=True
    )


def serve_storage(state_dir: Path, serve: Callable[[], int]) -> int:
    """Run ``serve`` with a fake-gcs-server beside it; ``vertex.json`` says where (for ``start``)."""
    from gembatch.emulator._persist import write_json

    with FakeGcs(root=state_dir / "storage") as gcs:  # objects outlive a restart
        os.environ[STORAGE_VAR] = gcs.url
        ensure_bucket(local_storage(PROJECT, gcs.url), BUCKET)
        info = {"storage_url": gcs.url, "vertex_project": PROJECT, "vertex_location": LOCATION,
                "vertex_bucket": BUCKET}  # fmt: skip
        write_json(state_dir / "vertex.json", info)
        try:
            return serve()
        finally:
            (state_dir / "vertex.json").unlink(missing_ok=True)
