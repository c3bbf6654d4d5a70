"""The runs a server owns: created from requests, reopened from their ledgers at start."""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path
from typing import Any

from gembatch.errors import GembatchError
from gembatch.runs.backend_record import check_backend_name, recorded, reopen_client
from gembatch.runs.run import Run
from gembatch.workflow.request import RunRequest

log = logging.getLogger("gembatch.server")
LEDGER_FILE = "ledger.sqlite"  # what makes a directory a run (Run.create writes it)


class UnknownRun(GembatchError):
    """No run with that id in the runs directory."""


class RunRegistry:
    """Maps run ids to :class:`~gembatch.Run` objects under one runs directory."""

    def __init__(self, runs_dir: Path, client_factory: Any):
        self.runs_dir = runs_dir
        self._client_factory = client_factory
        self._client: Any = None
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def resume_all(self) -> list[str]:
        """Reopen every run found on disk and restart the unfinished ones (after a restart)."""
        resumed = []
        for ledger in sorted(self.runs_dir.glob(f"*/{LEDGER_FILE}")):
            run_id = ledger.parent.name
            try:
                run = self.get_run(run_id, ledger.parent)
                if not run.summary().done:
                    run.start()
                    resumed.append(run_id)
            except GembatchError as exc:  # one broken run must not stop the server
                log.warning("cannot resume run %s: %s", run_id, exc)
        return resumed

    def create(self, run_dir: Path, request: RunRequest) -> Run:
        """Create (or reopen) the run ``request`` describes in ``run_dir`` and drive it: on the request's
        backend, else on the one a run already there recorded, else on the server's."""
        if request.backend is not None:
            check_backend_name(recorded(run_dir), request.backend, run_dir)  # before connecting
            client = request.connect()
        else:
            client = reopen_client(run_dir, self.client)
        run = request.plan_and_create(run_dir, client=client)
        with self._lock:
            self._runs[run_dir.name] = run
        run.start()
        return run

    def get_run(self, run_id: str, run_dir: Path) -> Run:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                if not (run_dir / LEDGER_FILE).exists():
                    raise UnknownRun(f"no run {run_id!r}")
                run = Run.open(run_dir, client=reopen_client(run_dir, self.client))
                self._runs[run_id] = run
            return run

    def ids(self) -> list[str]:
        return sorted(p.parent.name for p in self.runs_dir.glob(f"*/{LEDGER_FILE}"))

    def new_id(self) -> str:
        return f"run-{uuid.uuid4().hex[:10]}"

    def stop_all(self) -> None:
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop()
