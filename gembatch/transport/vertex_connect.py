"""How a :class:`~gembatch.transport.vertex.VertexTransport` is made: the ``vertex`` backend factory,
the google-genai client with ``vertexai=True``, Application Default Credentials and the storage client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gembatch.errors import BackendError
from gembatch.transport.base import Timings
from gembatch.transport.vertex import DEFAULT_PREFIX, VertexTransport
from gembatch.transport.vertex_bq import bigquery_client

if TYPE_CHECKING:
    from google import genai

__all__ = ["create", "default_credentials", "storage_client", "vertex_client"]


def vertex_client(
    project: str,
    location: str,
    *,
    credentials: Any = None,
    base_url: str | None = None,
    api_version: str | None = None,
) -> genai.Client:
    """A ``google.genai.Client(vertexai=True)`` (ADC when ``credentials`` is None)."""
    from google import genai
    from google.genai import types

    if not project or not location:
        raise BackendError("the vertex backend needs project= and location= (for example 'us-central1')")
    options = types.HttpOptions(base_url=base_url, api_version=api_version)
    return genai.Client(
        vertexai=True, project=project, location=location, credentials=credentials, http_options=options
    )


def default_credentials() -> tuple[Any, str | None]:
    """Application Default Credentials (and their project), or one clear :class:`BackendError`."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    except DefaultCredentialsError as exc:
        raise BackendError(
            "no Google Cloud credentials for the vertex backend: run `gcloud auth application-default "
            "login`, set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or pass "
            f"credentials= ({exc})"
        ) from None
    return credentials, project


def storage_client(project: str, *, credentials: Any = None, endpoint: str | None = None) -> Any:
    """A ``google.cloud.storage.Client`` (``endpoint``: a Cloud Storage emulator such as fake-gcs-server)."""
    try:
        from google.cloud import storage  # type: ignore[attr-defined]  # untyped, beside the typed bigquery
    except ImportError as exc:
        raise BackendError(
            "the vertex backend needs google-cloud-storage: pip install 'gembatch-runner[vertex]'"
        ) from exc
    options = {"api_endpoint": endpoint} if endpoint else None
    return storage.Client(project=project, credentials=credentials, client_options=options)


def create(
    *,
    project: str | None = None,
    location: str | None = None,
    bucket: str | None = None,
    credentials: Any = None,
    prefix: str = DEFAULT_PREFIX,
    client: Any = None,
    storage: Any = None,
    base_url: str | None = None,
    storage_endpoint: str | None = None,
    emulated: bool = False,
    timings: Timings | None = None,
    dataset: str | None = None,
    bigquery: Any = None,
    api_version: str | None = None,
) -> VertexTransport:
    """The ``vertex`` backend factory: ``get_backend("vertex", project=, location=, bucket=)``
    (or ``dataset="project.dataset"``: job inputs and outputs as BigQuery tables)."""
    if not bucket and not dataset:
        raise BackendError(
            "the vertex backend needs bucket= (a Cloud Storage bucket for run inputs and outputs) "
            "or dataset= (a BigQuery dataset)"
        )
    if client is None and credentials is None and base_url is None:
        credentials, found = default_credentials()
        project = project or found
    if client is None:
        client = vertex_client(
            str(project or ""),
            str(location or ""),
            credentials=credentials,
            base_url=base_url,
            api_version=api_version,
        )
    project = project or str(getattr(client._api_client, "project", "") or "")
    if storage is None and bucket:
        storage = storage_client(project, credentials=credentials, endpoint=storage_endpoint)
    if bigquery is None and dataset:
        bigquery = bigquery_client(project, credentials=credentials)
    return VertexTransport(client, storage, bucket=bucket or "", prefix=prefix, emulated=emulated,
                           timings=timings, bigquery=bigquery, dataset=dataset)  # fmt: skip
