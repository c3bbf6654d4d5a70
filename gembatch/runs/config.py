"""A run's persisted configuration (JSON in the store, never a key) and the run directory's files."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from gembatch.planning.latency import HEDGE_QUANTILE
from gembatch.transport.base import Timings

__all__ = ["ARTICLES_FILE", "LEDGER_FILE", "MARKER_FILE", "RESULTS_FILE", "RunConfig"]

ARTICLES_FILE = "articles.parquet"
LEDGER_FILE = "ledger.sqlite"
RESULTS_FILE = "results.parquet"
# written once the ledger is committed: proof that a run (and maybe paid work) exists here
MARKER_FILE = "run.json"


@dataclass
class RunConfig:
    """Everything needed to drive a run after a restart; stored as JSON in the ledger (no API key).

    Fields in ``OPERATIONAL`` may change between sessions; the others define the run.
    """

    run_id: str
    model: str
    tier: str
    spec: dict[str, Any]
    model_info: dict[str, Any]
    policy: str = "rolling"
    headroom: float = 0.9
    budget_usd: float | None = None
    quota_tokens: int = 0
    max_attempts: int = 3
    chunk_tokens: int = 0  # size cap for retry chunks (the plan's largest chunk)
    max_jobs: int = 100
    inline_limit_bytes: int = 19_000_000  # under the documented 20 MB, leaving room for the wrapper
    fingerprints: dict[str, str] = field(default_factory=dict)
    # the backend the run was created on and how to reach it again (no secret); {}: an older run
    backend: dict[str, Any] = field(default_factory=dict)
    # operational knobs
    delete_input_files: bool = True
    delete_output_files: bool = True
    delete_collected_jobs: bool = True  # batches.delete once results are in the ledger
    # the watchdog: a job pending this long (wall clock) is cancelled and sent again, attempt-free
    pending_limit_s: float | None = 86_400.0
    cancel_stale: bool = True
    # hedge stragglers: cancel (attempt-free) and resend a job pending past this turnaround quantile
    hedge_quantile: float | None = HEDGE_QUANTILE
    # a backend's own timings (e.g. the emulator's) replace these when a run is created
    poll_min_s: float = Timings.poll_min_s
    poll_max_s: float = Timings.poll_max_s
    backoff_base_s: float = 5.0
    backoff_max_s: float = 600.0
    # a job just created may take a moment to show in listings: only then is "absent" believed
    reconcile_grace_s: float = Timings.reconcile_grace_s
    mode: str = "batch"  # "batch" | "realtime" (generateContent under RPM/TPM)
    realtime: dict[str, Any] = field(default_factory=dict)  # RealtimeOptions fields
    # "bigquery": a Vertex run with dataset= keeps its output tables; results() reads them back
    results_in: str = "local"

    OPERATIONAL = (
        "inline_limit_bytes",
        "delete_input_files",
        "delete_output_files",
        "delete_collected_jobs",
        "pending_limit_s",
        "cancel_stale",
        "hedge_quantile",
        "poll_min_s",
        "poll_max_s",
        "backoff_base_s",
        "backoff_max_s",
        "reconcile_grace_s",
        "mode",
        "realtime",
        "results_in",
    )

    @property
    def cap_tokens(self) -> int:
        """Enqueued tokens the scheduler may hold in flight: quota × headroom."""
        return int(self.quota_tokens * self.headroom)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
