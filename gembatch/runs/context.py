"""A run's persisted configuration and the live context the run's modules share."""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gembatch.planning.catalog import ModelInfo
from gembatch.runs.store import Ledger

if TYPE_CHECKING:
    import pandas as pd

    from gembatch.inputs.request_lines import RequestSpec

__all__ = ["ARTICLES_FILE", "LEDGER_FILE", "RESULTS_FILE", "Context", "RunConfig"]

ARTICLES_FILE = "articles.parquet"
LEDGER_FILE = "ledger.sqlite"
RESULTS_FILE = "results.parquet"


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
    # operational knobs
    delete_input_files: bool = True
    delete_output_files: bool = True
    delete_collected_jobs: bool = True  # batches.delete once results are in the ledger
    pending_limit_s: float | None = None
    cancel_stale: bool = False
    poll_min_s: float = 5.0
    poll_max_s: float = 60.0
    backoff_base_s: float = 5.0
    backoff_max_s: float = 600.0
    # a job just created may take a moment to show in listings: only then is "absent" believed
    reconcile_grace_s: float = 60.0
    mode: str = "batch"  # "batch" | "realtime" (generateContent under RPM/TPM)
    realtime: dict[str, Any] = field(default_factory=dict)  # RealtimeOptions fields

    OPERATIONAL = (
        "inline_limit_bytes",
        "delete_input_files",
        "delete_output_files",
        "delete_collected_jobs",
        "pending_limit_s",
        "cancel_stale",
        "poll_min_s",
        "poll_max_s",
        "backoff_base_s",
        "backoff_max_s",
        "reconcile_grace_s",
        "mode",
        "realtime",
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


@dataclass
class Context:
    """Live state shared by submit / monitor / collect: ledger, client, config, inputs."""

    run_dir: Path
    ledger: Ledger
    _client: Any
    config: RunConfig
    backoff_until: float = 0.0
    backoff_n: int = 0
    _articles: pd.DataFrame | None = None
    _spec: RequestSpec | None = None

    @property
    def client(self) -> Any:
        """The google-genai client; ``gb.connect()`` on first use when none was given."""
        if self._client is None:
            from gembatch.transport.connect import connect

            self._client = connect()
        return self._client

    @property
    def spec(self) -> RequestSpec:
        if self._spec is None:
            from gembatch.inputs.request_lines import RequestSpec

            self._spec = RequestSpec.from_dict(self.config.spec)
        return self._spec

    @property
    def model_info(self) -> ModelInfo:
        return ModelInfo(**self.config.model_info)

    @property
    def articles(self) -> pd.DataFrame:
        """The input snapshot taken at :meth:`Run.create` (index ``article_id``)."""
        if self._articles is None:
            import pandas as pd

            self._articles = pd.read_parquet(self.run_dir / ARTICLES_FILE)
        return self._articles

    @property
    def tmp_dir(self) -> Path:
        path = self.run_dir / "tmp"
        path.mkdir(exist_ok=True)
        return path

    def display_name(self, chunk_id: str, attempt: int) -> str:
        return f"gembatch/{self.config.run_id}/{chunk_id}/{attempt}"

    def back_off(self, hint_s: float | None) -> float:
        """Start (or lengthen) a submission pause: exponential with jitter, at least the server's hint."""
        self.backoff_n += 1
        cfg = self.config
        delay = min(cfg.backoff_max_s, cfg.backoff_base_s * 2 ** (self.backoff_n - 1))
        delay *= random.uniform(0.5, 1.0)
        if hint_s is not None:
            delay = max(delay, min(hint_s, cfg.backoff_max_s))
        self.backoff_until = time.time() + delay
        self.ledger.set_meta("backoff_until", self.backoff_until)  # shown in the summary
        return delay

    def backoff_ok(self) -> None:
        self.backoff_n = 0
