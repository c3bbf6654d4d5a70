"""Vertex AI batch prediction for Gemini through google-genai, with its input and output on Cloud Storage.

Everything Vertex-specific lives here and in :mod:`gembatch.transport.vertex_lines`: the request
line format (keys in ``request.labels``), job names (``projects/…/locations/…/batchPredictionJobs/…``),
the JSONL objects a run uploads to its bucket and the prediction files the service writes under the
destination prefix, the ``JOB_STATE_*`` states and the service's errors. The run loop sees the same
:class:`~gembatch.transport.base.Transport` as for the Developer API: ``upload`` returns a
``gs://`` URI, a finished job's ``output_file`` is its ``gs://`` output directory, and ``download``
returns the predictions as gembatch response lines (``{"key", "response"}`` / ``{"key", "error"}``).

Needs the ``vertex`` extra (``pip install 'gembatch-runner[vertex]'``) for google-cloud-storage.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from gembatch.errors import InputError
from gembatch.transport.base import Failure, JobState, JobStatus, Timings
from gembatch.transport.gemini import GeminiTransport, public_url
from gembatch.transport.gemini import classify as classify_genai
from gembatch.transport.vertex_bq import BigQueryTables, is_bq_uri, output_table
from gembatch.transport.vertex_lines import iter_predictions, vertex_jsonl

if TYPE_CHECKING:
    from google import genai

__all__ = ["DEFAULT_PREFIX", "TIMINGS", "VertexTransport", "parse_gcs_uri", "parse_vertex_job"]

DEFAULT_PREFIX = "gembatch"
#: Vertex's limit on one batch job (planning reads the same figure from the catalogue's [vertex] table).
REQUESTS_PER_JOB = 200_000
#: Vertex jobs queue for minutes to hours: poll gently.
TIMINGS = Timings(poll_min_s=15.0, poll_max_s=300.0, reconcile_grace_s=120.0)
_ACTIVE = {"JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_CANCELLING",
           "JOB_STATE_UPDATING", "JOB_STATE_PAUSED"}  # fmt: skip
# Vertex states the Transport's JobState does not spell: what they mean for a run.
_STATE_MAP = {
    "JOB_STATE_QUEUED": JobState.PENDING,
    "JOB_STATE_PAUSED": JobState.PENDING,
    "JOB_STATE_UPDATING": JobState.RUNNING,
    "JOB_STATE_CANCELLING": JobState.RUNNING,
    # Some requests succeeded: collect them; the missing ones are retried like any lost line.
    "JOB_STATE_PARTIALLY_SUCCEEDED": JobState.SUCCEEDED,
}


def parse_gcs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/path`` → ``("bucket", "path")``; anything else is an :class:`InputError`."""
    text = str(uri)
    if not text.startswith("gs://") or ("/" not in text[5:] and not text[5:]):
        raise InputError(f"{text!r} is not a Cloud Storage URI (gs://bucket/object)", field="uri")
    bucket, _, path = text[5:].partition("/")
    if not bucket:
        raise InputError(f"{text!r} names no bucket", field="uri")
    return bucket, path


def _stats(raw: Mapping[str, Any]) -> dict[str, int]:
    """``completionStats`` in the Transport's terms (``successfulRequestCount``, …)."""
    names = {"successfulCount": "successfulRequestCount", "failedCount": "failedRequestCount",
             "incompleteCount": "pendingRequestCount"}  # fmt: skip
    out: dict[str, int] = {}
    for src, dst in names.items():
        value = str(raw.get(src, "0"))
        if value.lstrip("-").isdigit() and int(value) >= 0:
            out[dst] = int(value)
    if out:
        out["requestCount"] = sum(out.values())
    return out


def parse_vertex_job(job: Mapping[str, Any]) -> JobStatus:
    """A :class:`JobStatus` from a raw ``BatchPredictionJob`` resource."""
    state_text = str(job.get("state") or "")
    state = _STATE_MAP.get(state_text) or JobState.parse(state_text)
    info = job.get("outputInfo") or {}
    output = (info.get("gcsOutputDirectory") or output_table(job)) if state == JobState.SUCCEEDED else None
    error = job.get("error")
    return JobStatus(
        name=str(job.get("name") or ""),
        display_name=job.get("displayName"),
        state=state,
        model=job.get("model"),
        stats=_stats(job.get("completionStats") or {}),
        error=(error.get("message") or None) if isinstance(error, Mapping) and error else None,
        output_file=output,
        create_time=job.get("createTime"),
        update_time=job.get("updateTime"),
        end_time=job.get("endTime"),
    )


class _StillReading(OSError):
    """An input object a job has not finished reading: deleting it must wait (transient)."""


class VertexTransport(GeminiTransport):
    """:class:`~gembatch.transport.base.Transport` for Vertex AI batch prediction.

    ``client`` is a ``google.genai.Client(vertexai=True, project=, location=)``; ``storage`` a
    ``google.cloud.storage.Client``. Run inputs go to ``gs://<bucket>/<prefix>/…``, one object per
    job attempt, and results come back from the prediction files under each job's output directory.

    Examples
    --------
    >>> t = gb.connect(backend="vertex", project="p", location="us-central1", bucket="b")  # doctest: +SKIP
    >>> t.describe()                                                                       # doctest: +SKIP
    'Vertex AI batch prediction in p/us-central1 (v1beta1), data in gs://b/gembatch'
    """

    list_path, list_field = "batchPredictionJobs", "batchPredictionJobs"

    def __init__(
        self,
        client: genai.Client,
        storage: Any,
        *,
        bucket: str,
        prefix: str = DEFAULT_PREFIX,
        name: str = "vertex",
        timings: Timings | None = None,
        emulated: bool = False,
        bigquery: Any = None,
        dataset: str | None = None,
    ):
        super().__init__(client, name=name, timings=timings or TIMINGS, emulated=emulated)
        if not dataset and (not bucket or "/" in bucket or bucket.startswith("gs:")):
            raise InputError(
                f"bucket must be a bucket name such as 'my-bucket', not {bucket!r}", field="bucket"
            )
        self.storage = storage
        self.bucket = bucket
        self.bigquery = bigquery  # google-cloud-bigquery client, for bq:// inputs and outputs
        self.dataset = dataset  # "project.dataset" the run's tables go to
        self.prefix = prefix.strip("/")
        self._readers: dict[str, tuple[str, bool]] = {}  # input URI -> (job name, job still active)
        # with a dataset, job inputs and outputs are BigQuery tables instead of Cloud Storage objects
        self.bq = BigQueryTables(bigquery, dataset, project=self.project, prefix=self.prefix,
                                 limit=REQUESTS_PER_JOB) if dataset else None  # fmt: skip

    # -- where ------------------------------------------------------------------------------
    @property
    def project(self) -> str:
        return str(getattr(self.client._api_client, "project", "") or "")

    @property
    def location(self) -> str:
        return str(getattr(self.client._api_client, "location", "") or "")

    def describe(self) -> str:
        data = f"bq://{self.bq.dataset}" if self.bq else f"gs://{self.bucket}/{self.prefix}"
        where = f"{self.project}/{self.location} ({self.api_version}), data in {data}"
        if self.emulated:
            return f"Vertex AI emulator at {self.base_url.rstrip('/')}, {where}; results are emulated"
        return f"Vertex AI batch prediction in {where}"

    def __repr__(self) -> str:
        return f"<VertexTransport {self.describe()}>"

    def connection(self) -> dict[str, Any]:
        """Project, location, bucket, prefix (and dataset, emulator URLs): what reopens a run; no secret."""
        facts: dict[str, Any] = {
            "backend": self.name, "project": self.project, "location": self.location,
            "bucket": self.bucket, "prefix": self.prefix, "api_version": self.api_version,
        }  # fmt: skip
        dataset = getattr(self, "dataset", None)
        if dataset:
            facts["dataset"] = str(dataset)
        if self.emulated:
            facts["base_url"] = public_url(self.base_url)
            storage_url = getattr(getattr(self.storage, "_connection", None), "API_BASE_URL", None)
            if storage_url:
                facts["storage_url"] = public_url(str(storage_url))
            bigquery_url = getattr(getattr(self.bigquery, "_connection", None), "API_BASE_URL", None)
            if bigquery_url:
                facts["bigquery_url"] = public_url(str(bigquery_url))
        return facts

    # -- Cloud Storage ----------------------------------------------------------------------
    def _object_base(self, display_name: str) -> str:
        tail = display_name.removeprefix("gembatch/").strip("/") or "job"
        return f"{self.prefix}/{tail}"

    def _blob(self, uri: str) -> Any:
        bucket, path = parse_gcs_uri(uri)
        return self.storage.bucket(bucket).blob(path)

    def _put(self, chunks: Iterator[bytes], display_name: str) -> str:
        path = f"{self._object_base(display_name)}/input-{uuid.uuid4().hex[:12]}.jsonl"
        data = b"".join(chunks)
        lines, limit = data.count(b"\n"), REQUESTS_PER_JOB
        if lines > limit:
            raise InputError(
                f"{display_name}: {lines:,} requests in one job; Vertex takes at most {limit:,} "
                "(plan with catalog=vertex_catalog() or a smaller chunk_tokens)",
                field="chunk_tokens",
            )
        self.storage.bucket(self.bucket).blob(path).upload_from_string(data, content_type="application/jsonl")
        return f"gs://{self.bucket}/{path}"

    def upload(self, data: BinaryIO, display_name: str) -> str:
        """Upload gembatch request lines as Vertex input JSONL; returns the object's ``gs://`` URI
        (with a dataset: a new input table, ``bq://``)."""
        if self.bq is not None:
            return self.bq.upload(data, display_name)
        lines = (json.loads(raw) for raw in io.TextIOWrapper(data, encoding="utf-8") if raw.strip())
        return self._put(vertex_jsonl(lines), display_name)

    def list_files(self, page_size: int = 100) -> Iterator[tuple[str, str]]:
        """The run input objects under the prefix, as ``(gs:// URI, display name)``: the display name
        is the object's path below the prefix, so a run finds what it uploaded before a crash.
        Prediction outputs are not listed: they go with their job (see :meth:`delete`)."""
        if self.bq is not None:
            yield from self.bq.list_inputs(page_size)
            return
        for blob in self.storage.list_blobs(self.bucket, prefix=f"{self.prefix}/", page_size=page_size):
            path = str(blob.name)
            leaf = path.rsplit("/", 1)[-1]
            if leaf.startswith("input-") and leaf.endswith(".jsonl"):
                tail = path.removeprefix(f"{self.prefix}/")
                yield f"gs://{self.bucket}/{path}", f"gembatch/{tail}"

    def _tables(self) -> BigQueryTables:
        if self.bq is None:
            raise InputError("a bq:// table needs the vertex backend with dataset=", field="dataset")
        return self.bq

    def file_exists(self, name: str) -> bool:
        return self._tables().exists(name) if is_bq_uri(name) else bool(self._blob(name).exists())

    def download(self, file_name: str) -> bytes:
        """The predictions under a job's output directory (or in its output table), as gembatch
        response lines (JSONL)."""
        if is_bq_uri(file_name):
            return self._tables().download(file_name)
        bucket, path = parse_gcs_uri(file_name)
        blobs = sorted(
            (b for b in self.storage.list_blobs(bucket, prefix=path.rstrip("/") + "/")
             if b.name.endswith(".jsonl") and "predictions" in b.name.rsplit("/", 1)[-1]),
            key=lambda b: b.name,
        )  # fmt: skip
        out = io.BytesIO()
        for blob in blobs:
            for line in iter_predictions(blob.download_as_bytes()):
                out.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
        return out.getvalue()

    def delete_file(self, name: str) -> None:
        """Delete an input object (once no active job still reads it) or an output directory."""
        reader = self._readers.get(name)
        if reader is not None and reader[1]:
            job = self.get(reader[0])
            if not job.state.done:
                raise _StillReading(f"{name} is still read by {reader[0]}")
        if is_bq_uri(name):  # an input or output table
            self._tables().drop(name)
        elif name.endswith(".jsonl"):
            self._blob(name).delete()
        else:
            self._delete_tree(name)
        self._readers.pop(name, None)

    def _delete_tree(self, uri: str) -> int:
        bucket, path = parse_gcs_uri(uri)
        blobs = list(self.storage.list_blobs(bucket, prefix=path.rstrip("/") + "/"))
        for blob in blobs:
            blob.delete()
        return len(blobs)

    def _ours(self, uri: str) -> bool:
        return uri.startswith(f"gs://{self.bucket}/{self.prefix}/")

    # -- jobs -------------------------------------------------------------------------------
    def _path(self, name: str) -> str:
        """The REST path of a job: its full name, or ``batchPredictionJobs/<id>``."""
        text = str(name).strip()
        if text.startswith("projects/") and "/batchPredictionJobs/" in text:
            return text
        if text.isdigit():
            return f"batchPredictionJobs/{text}"
        raise InputError(
            f"{text!r} is not a Vertex batch job name: expected "
            "projects/P/locations/L/batchPredictionJobs/ID or a numeric ID",
            field="job",
        )

    def _remember(self, raw: Mapping[str, Any]) -> JobStatus:
        job = parse_vertex_job(raw)
        config = raw.get("inputConfig") or {}
        source = list((config.get("gcsSource") or {}).get("uris") or [])
        source.append((config.get("bigquerySource") or {}).get("inputUri") or "")
        for uri in filter(None, source):
            self._readers[str(uri)] = (job.name, str(raw.get("state") or "") in _ACTIVE)
        return job

    def create(
        self,
        model: str,
        display_name: str,
        *,
        file_name: str | None = None,
        requests: Sequence[Mapping[str, Any]] | None = None,
    ) -> JobStatus:
        """``batchPredictionJobs.create`` from an uploaded object (inline lines are uploaded first)."""
        if file_name is None and self.bq is not None:
            file_name = self.bq.upload_lines(requests or [], display_name)
        elif file_name is None:
            file_name = self._put(vertex_jsonl(requests or []), display_name)
        model_name = (
            model if model.startswith(("projects/", "publishers/")) else f"publishers/google/models/{model}"
        )
        dest = f"gs://{self.bucket}/{self._object_base(display_name)}/output-{uuid.uuid4().hex[:12]}"
        body = {
            "displayName": display_name,
            "model": model_name,
            "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [file_name]}},
            "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {"outputUriPrefix": dest}},
        }
        if is_bq_uri(file_name):
            body.update(self._tables().job_config(file_name, display_name))
        return self._remember(self._request("post", "batchPredictionJobs", body))

    def get_raw(self, name: str) -> dict[str, Any]:
        """The ``BatchPredictionJob`` exactly as the service sent it."""
        return self._request("get", self._path(name))

    def get(self, name: str) -> JobStatus:
        return self._remember(self.get_raw(name))

    def list_jobs(self, page_size: int = 100) -> Iterator[JobStatus]:
        return (self._remember(raw) for raw in self.list_raw(page_size))

    def cancel(self, name: str) -> None:
        self._request("post", f"{self._path(name)}:cancel")

    def delete(self, name: str) -> None:
        """Delete the job and this run's objects it used (its input and its output directory)."""
        raw = self.get_raw(name)
        for uri in ((raw.get("inputConfig") or {}).get("gcsSource") or {}).get("uris") or []:
            if self._ours(str(uri)):
                self._blob(str(uri)).delete() if self._blob(str(uri)).exists() else None
                self._readers.pop(str(uri), None)
        dest = ((raw.get("outputConfig") or {}).get("gcsDestination") or {}).get("outputUriPrefix")
        if dest and self._ours(str(dest)):
            self._delete_tree(str(dest))
        for uri in self.bq.drop_job_tables(raw) if self.bq is not None else ():
            self._readers.pop(uri, None)
        self._request("delete", self._path(name))

    def count_tokens(self, model: str, text: str) -> int:
        return int(self.client.models.count_tokens(model=model, contents=text).total_tokens or 0)

    def classify(self, exc: BaseException) -> Failure:
        """google-genai errors as for the Developer API; Cloud Storage errors by their HTTP code."""
        if isinstance(exc, InputError):  # refused before anything reached the service
            return Failure(transient=False, refused=True, status="InputError", message=str(exc))
        if isinstance(exc, _StillReading):
            return Failure(transient=True, status="StillReading", message=str(exc))
        code = getattr(exc, "code", None)
        module = type(exc).__module__
        if module.startswith("google.api_core") and isinstance(code, int):
            return Failure(
                transient=code >= 500 or code in (408, 429),
                refused=400 <= code < 500 and code != 408,
                answered=True,
                code=code,
                status=type(exc).__name__,
                message=str(getattr(exc, "message", exc)),
            )
        if module.startswith("google.auth"):
            return Failure(transient=False, refused=True, status=type(exc).__name__, message=str(exc))
        return classify_genai(exc)
