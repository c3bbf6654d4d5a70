"""A batch job: its schedule in emulated time and its Operation-shaped resource."""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from gembatch.emulator._clock import rfc3339
from gembatch.emulator._faults import Profile
from gembatch.planning.latency import draw_job_times

__all__ = ["ACTIVE", "QUEUE_EXPIRED", "RUN_EXPIRED", "TERMINAL", "Job", "schedule", "vertex_expiry"]

ACTIVE = ("PENDING", "RUNNING")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")
_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main."
_OP_ERRORS = {
    "FAILED": {
        "code": 13,
        "message": "Batch job failed: an internal error occurred while processing the batch.",
    },
    "EXPIRED": {"code": 4, "message": "Batch job expired: it was not completed within 48 hours."},
    "CANCELLED": {"code": 1, "message": "Batch job was cancelled."},
}
# Vertex AI batch prediction: up to 72 h queued, then up to 24 h running (no 48 h overall limit).
VERTEX_QUEUE_S, VERTEX_RUN_S = 72 * 3600.0, 24 * 3600.0
QUEUE_EXPIRED = "Batch prediction job expired: it was not started within 72 hours of being queued."
RUN_EXPIRED = "Batch prediction job failed: it did not finish within 24 hours of starting to run."


def vertex_expiry(created: float, start: float) -> float:
    """When a Vertex job stops unfinished: 72 h after create if still queued, else 24 h after ``start``."""
    queued_until = created + VERTEX_QUEUE_S
    return queued_until if start >= queued_until else start + VERTEX_RUN_S


@dataclass
class Job:
    """One batch job. Times are emulated UNIX seconds; ``state`` is the committed state."""

    id: str
    seq: int
    model: str
    display_name: str | None
    source: str  # "file" | "inline"
    input_file: str | None
    request_count: int
    tokens: int
    create_time: float
    start_at: float
    end_at: float
    expire_at: float
    planned: str = "SUCCEEDED"
    state: str = "PENDING"
    update_time: float = 0.0
    end_time: float | None = None
    generated: bool = False
    generated_at: float = 0.0
    ok_count: int = 0
    fail_count: int = 0
    output_file: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    kind: str = "generate"  # "generate" (batchGenerateContent) | "embed" (asyncBatchEmbedContent)
    project: str = "default"  # jobs are visible, and quotas counted, per project

    @property
    def name(self) -> str:
        return f"batches/{self.id}"

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def observed(self, now: float) -> str:
        """The state at emulated time ``now`` before committing transitions."""
        if not self.active:
            return self.state
        return "PENDING" if now < self.start_at else "RUNNING"

    def due(self, now: float) -> str | None:
        """The terminal state this job reaches at ``now``, if any."""
        if not self.active:
            return None
        late = self.planned == "EXPIRED" or self.end_at >= self.expire_at or not self.generated
        if now >= self.expire_at and late:
            return "EXPIRED"
        if self.planned == "EXPIRED" or now < self.end_at:
            return None
        if self.planned == "FAILED":
            return "FAILED"
        return "SUCCEEDED" if self.generated else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(**data)

    def stats(self, now: float) -> dict[str, str]:
        n = self.request_count
        ok = fail = 0
        state = self.observed(now)
        if state == "SUCCEEDED":
            ok, fail = self.ok_count, self.fail_count
        elif state == "RUNNING" and self.generated and self.end_at > self.start_at:
            frac = min(1.0, max(0.0, (now - self.start_at) / (self.end_at - self.start_at)))
            ok, fail = math.floor(frac * self.ok_count), math.floor(frac * self.fail_count)
        counts = {
            "requestCount": n,
            "successfulRequestCount": ok,
            "failedRequestCount": fail,
            "pendingRequestCount": n - ok - fail
            if state in (*ACTIVE, "EXPIRED", "FAILED", "CANCELLED")
            else 0,
        }
        return {k: str(v) for k, v in counts.items() if v}

    def resource(self, now: float, inline_output: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The Operation JSON the real service returns for create, get and list."""
        state = self.observed(now)
        embed = self.kind == "embed"
        batch_type = "EmbedContentBatch" if embed else "GenerateContentBatch"
        meta: dict[str, Any] = {"@type": _TYPE + batch_type, "model": f"models/{self.model}"}
        if self.display_name is not None:
            meta["displayName"] = self.display_name
        if self.input_file:
            meta["inputConfig"] = {"fileName": self.input_file}
        meta["createTime"] = rfc3339(self.create_time)
        meta["updateTime"] = rfc3339(max(self.update_time, self.create_time))
        if self.end_time is not None:
            meta["endTime"] = rfc3339(self.end_time)
        meta["batchStats"] = self.stats(now)
        meta["state"] = f"BATCH_STATE_{state}"
        meta["name"] = self.name
        op: dict[str, Any] = {"name": self.name, "metadata": meta}
        if state in TERMINAL:
            op["done"] = True
        if state == "SUCCEEDED":
            if self.output_file:
                output: dict[str, Any] = {"responsesFile": self.output_file}
            else:
                inlined = "inlinedEmbedContentResponses" if embed else "inlinedResponses"
                output = {inlined: {"inlinedResponses": inline_output or []}}
            meta["output"] = output
            op["response"] = {"@type": _TYPE + batch_type + "Output", **output}
        elif state == "EXPIRED" and self.extra.get("deadline") == "vertex":
            ran = self.expire_at > self.start_at
            op["error"] = {"code": 4, "message": RUN_EXPIRED if ran else QUEUE_EXPIRED}
        elif state in _OP_ERRORS:
            op["error"] = dict(_OP_ERRORS[state])
        return op


def schedule(profile: Profile, *, seed: int, seq: int, tokens: int, created: float) -> tuple[float, float]:
    """Seeded heavy-tailed (lognormal) start and end times for a new job."""
    return draw_job_times(
        seed, seq, tokens, created, queue_median_s=profile.queue_median_s, queue_sigma=profile.queue_sigma,
        overhead_s=profile.overhead_s, tokens_per_s=profile.tokens_per_s, proc_sigma=profile.proc_sigma,
        extra_latency_s=profile.extra_latency_s,
    )  # fmt: skip


def roll(seed: int, *parts: object) -> float:
    """A deterministic uniform [0, 1) number for (seed, parts…)."""
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:7], "big") / float(1 << 56)
