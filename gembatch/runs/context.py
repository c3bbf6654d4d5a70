"""The live context a run's modules share: store, transport, configuration (re-read each step), inputs."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gembatch.planning.catalog import ModelInfo
from gembatch.runs.config import ARTICLES_FILE, LEDGER_FILE, RESULTS_FILE, RunConfig
from gembatch.runs.store import RunStore
from gembatch.transport.base import Transport

if TYPE_CHECKING:
    import pandas as pd

    from gembatch.inputs.request_lines import RequestSpec

__all__ = ["ARTICLES_FILE", "LEDGER_FILE", "RESULTS_FILE", "STREAM_META", "Context", "RunConfig"]

#: meta key of a run made from a streamed input (its snapshot is read by row group, never whole)
STREAM_META = "streamed_input"


@dataclass
class Context:
    """Live state shared by submit / poll / collect / the drivers: store, transport, config, inputs.

    ``config`` is a snapshot; :meth:`refresh` re-reads it from the store, so a change made by another
    ``Run`` object or process (``set_budget``, ``retry_failed``…) reaches a live driver.
    """

    run_dir: Path
    store: RunStore
    _transport: Any
    config: RunConfig
    backoff_until: float = 0.0
    backoff_n: int = 0
    _articles: pd.DataFrame | None = None
    _spec: RequestSpec | None = None
    #: held by a step and by configuration changes made through the same ``Run`` object
    lock: threading.RLock = field(default_factory=threading.RLock)
    _resolved: Transport | None = None
    #: when (and on how many results) results.parquet was last written, whether collected work is
    #: not in it yet, and how many results the token ratio was last measured on (both are refreshed
    #: on a schedule, not at every step)
    exported_at: float = 0.0
    exported_on: int = 0
    export_due: bool = False
    calibrated_on: int = 0

    @property
    def ledger(self) -> RunStore:
        """Older name of :attr:`store`."""
        return self.store

    @property
    def transport(self) -> Transport:
        """The backend; when none was given, the one the run recorded (Developer API: ``gb.connect()``'s
        choice) on first use."""
        if self._resolved is None:
            from gembatch.runs.backend_record import resolve

            self._resolved = resolve(self._transport, self.config.backend)
        return self._resolved

    def refresh(self) -> RunConfig:
        """Re-read the configuration from the store (another process may have changed it)."""
        stored = self.store.get_meta("config")
        if stored is not None:
            self.config = RunConfig.from_dict(stored)
        return self.config

    def save_config(self) -> None:
        self.store.set_meta("config", self.config.to_dict())

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

    def article_rows(self, ids: list[str]) -> pd.DataFrame:
        """The snapshot rows of ``ids`` in that order; a run over a streamed input reads only the row
        groups that hold them, never the whole snapshot."""
        if self._articles is None and self.store.get_meta(STREAM_META) is not None:
            return _read_rows(self.run_dir / ARTICLES_FILE, self.store, ids)
        return self.articles.loc[ids]

    @property
    def tmp_dir(self) -> Path:
        path = self.run_dir / "tmp"
        path.mkdir(exist_ok=True)
        return path

    def display_name(self, chunk_id: str, attempt: int) -> str:
        """``gembatch/<run_id>/<chunk>/<attempt>``: how a job is found again after a lost response."""
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
        self.store.set_meta("backoff_until", self.backoff_until)  # shown in the summary
        return delay

    def backoff_ok(self) -> None:
        self.backoff_n = 0


def _read_rows(snapshot: Path, store: RunStore, ids: list[str]) -> pd.DataFrame:
    """The snapshot rows of ``ids`` (in that order), reading only the row groups that hold them."""
    import bisect

    import pandas as pd
    import pyarrow.parquet as pq

    where = store.seqs_of(ids)
    pfile = pq.ParquetFile(snapshot)
    meta = pfile.metadata
    starts, total = [], 0
    for g in range(meta.num_row_groups):
        starts.append(total)
        total += meta.row_group(g).num_rows
    groups = sorted({bisect.bisect_right(starts, s) - 1 for s in where.values()})
    wanted = set(ids)
    parts = []
    for g in groups:
        frame = pfile.read_row_group(g).to_pandas()
        parts.append(frame[frame.index.isin(wanted)])
    if not parts:
        return pd.DataFrame(columns=pfile.schema_arrow.names).iloc[:0]
    return pd.concat(parts).loc[ids]
