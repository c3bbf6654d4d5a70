"""Helpers the notebooks call: pick a backend, load inputs, prompt and schema, create and watch a run."""

from __future__ import annotations

import getpass
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gembatch import workflow
from gembatch.errors import BackendError, GembatchError
from gembatch.presentation.summary_view import summary_line
from gembatch.workflow.request import MODES, RunRequest

if TYPE_CHECKING:
    import pandas as pd
    from google import genai

    from gembatch.planning.plan import Plan
    from gembatch.runs.run import Run

__all__ = [
    "BACKENDS",
    "MODES",
    "ask_api_key",
    "closing_block",
    "connect_backend",
    "create_run",
    "example_results",
    "load_articles",
    "load_prompt",
    "load_schema",
    "monitor",
    "request",
    "storage_left",
    "wait",
]

BACKENDS = ("auto", "emulator", "gemini", "vertex", "vertex-emulator")
EMULATOR_STATE = ".emulator"  # inside the run directory: the rehearsal service's jobs survive a restart

def _has_key() -> bool:
    from gembatch.transport.connect import _key_from_env

    return _key_from_env()[0] is not None


def ask_api_key(var: str = "GEMINI_API_KEY") -> str:
    """Make sure a Gemini API key is available, asking with ``getpass`` when none is found.

    The key is read from the environment or a ``.env`` file; otherwise typed (hidden) and put in
    ``os.environ[var]`` for this kernel only. Returns where it came from, never the key itself.
    """
    from gembatch.transport.connect import _key_from_env

    key, source = _key_from_env()
    if key:
        return source or "environment"
    typed = getpass.getpass(f"{var} (input hidden; Enter to stay on the emulator): ").strip()
    if not typed:
        return "none: staying on the emulator"
    os.environ[var] = typed
    return "typed (kept in this kernel's environment only)"


def connect_backend(
    backend: str = "emulator",
    *,
    emulator_speed: float = 600.0,
    emulator_profile: str = "calm",
    state_dir: str | os.PathLike[str] | None = None,
    project: str = "",
    location: str = "",
    bucket: str = "",
    dataset: str = "",
) -> genai.Client | Any:
    """A ``genai.Client`` for ``backend``: ``"auto"``, ``"emulator"`` or ``"gemini"``; the transport
    for ``"vertex"`` (``project``, ``location``, ``bucket``, optional ``dataset``; ``""``: unset) or
    ``"vertex-emulator"`` (``$GEMBATCH_EMULATOR_URL``/``$STORAGE_EMULATOR_HOST``, else in this process).

    ``"auto"`` picks the real service when a key is found (environment or ``.env``), else the
    emulator. The emulator is ``$GEMBATCH_EMULATOR_URL`` when set (e.g. ``gembatch emulator start``),
    else one embedded in this process at ``emulator_speed`` with ``emulator_profile``, keeping its
    jobs in ``state_dir`` (so re-running a notebook after a kernel restart finds them again).

    Examples
    --------
    >>> client = connect_backend("emulator", emulator_speed=20_000)  # doctest: +SKIP
    """
    from gembatch.transport.connect import EMULATOR_URL_VAR, connect

    if backend not in BACKENDS:
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    facts = {"project": project, "location": location, "bucket": bucket, "dataset": dataset}
    if backend == "vertex":
        from gembatch.transport.connect import connect_backend as backend_transport

        return backend_transport("vertex", facts)
    if backend == "vertex-emulator":
        settings: dict[str, Any] = {k: v for k, v in facts.items() if v}
        if not os.environ.get(EMULATOR_URL_VAR, "").strip():
            settings.update(speed=emulator_speed, profile=emulator_profile, state_dir=state_dir or None)
        return connect(backend="vertex-emulator", **settings)
    if backend == "gemini" or (backend == "auto" and _has_key()):
        return connect(prefer="real")
    if os.environ.get(EMULATOR_URL_VAR, "").strip():
        return connect(prefer="emulator")
    from gembatch.transport.connect import local_emulator

    # one in-process emulator per (speed, profile, state directory), kept in the emulator's registry
    emu = local_emulator(speed=emulator_speed, profile=emulator_profile, state_dir=state_dir or None)
    print(
        f"gembatch: using the embedded Gemini emulator at {emu.base_url} (speed x{emulator_speed:g}, "  # type: ignore[attr-defined]
        f"profile {emulator_profile}); results are emulated, not produced by Gemini."
    )
    return emu.client  # type: ignore[attr-defined]


def load_articles(
    input_path: str = "",
    *,
    synthetic: int = 12_000,
    mean_chars: int = 9000,
    id_col: str | None = None,
    text_col: str | None = None,
    model: str | None = None,
    query: str = "",
    client: Any = None,
) -> pd.DataFrame:
    """Read ``input_path`` with :func:`gembatch.read_articles`; ``""`` makes ``synthetic`` articles.

    ``input_path`` may be a BigQuery table (``bq://project.dataset.table``), or ``query`` a BigQuery
    query: both are read through ``client``, a Vertex backend made with a ``dataset``.
    """
    from gembatch.inputs.articles import read_articles
    from gembatch.inputs.datasets import synthetic_articles
    from gembatch.workflow.sources import is_bigquery, read_source

    if is_bigquery(input_path, query or None):
        return read_source(None if query else input_path, query or None, client, id_col=id_col or None,
                           text_col=text_col or None, model=model, catalog=None)  # fmt: skip
    if input_path:
        return read_articles(input_path, id_col or None, text_col or None, model=model)
    return read_articles(synthetic_articles(synthetic, mean_chars=mean_chars), "id", model=model)


def load_prompt(prompt: str, prompt_file: str = "") -> str:
    """The prompt template: the contents of ``prompt_file`` when given (it overrides), else ``prompt``."""
    return workflow.load_prompt(None if prompt_file else prompt, prompt_file or None)


def load_schema(schema: str) -> Any:
    """A response schema from a notebook parameter.

    ``""`` → ``None`` (free text); ``"package.module:Model"`` → that pydantic model;
    a ``.json`` file → the Gemini Schema dict it holds.
    """
    return workflow.load_schema(schema or None)


def request(
    articles: Any,
    *,
    prompt: str = "",
    prompt_file: str = "",
    budget_usd: float = 0.0,
    chunk_tokens: int = 0,
    **fields: Any,
) -> RunRequest:
    """A :class:`gembatch.RunRequest` from notebook parameters, where ``""`` and ``0`` mean "not set".

    ``prompt_file``, when set, overrides ``prompt``; every other keyword is a RunRequest field.

    Examples
    --------
    >>> req = request(articles, model=model, prompt=prompt, budget_usd=0.0)  # doctest: +SKIP
    >>> plan = req.plan()                                                    # doctest: +SKIP
    >>> run = req.create(run_dir, plan, client=client)                       # doctest: +SKIP
    """
    return RunRequest(
        inputs=articles,
        prompt=None if prompt_file else (prompt or None),
        prompt_file=prompt_file or None,
        budget_usd=budget_usd or None,
        chunk_tokens=chunk_tokens or None,
        **fields,
    )


def create_run(
    run_dir: str | os.PathLike[str],
    articles: pd.DataFrame,
    plan: Plan,
    *,
    mode: Literal["batch", "realtime"] = "batch",
    client: Any = None,
    budget_usd: float | None = None,
    max_attempts: int = 3,
    **options: Any,
) -> Run:
    """Create (or resume) the run of ``plan`` in ``run_dir`` with the runbook's ``mode`` (batch | realtime).

    The same as ``RunRequest(...).create(run_dir, plan)``; re-running with the same ``run_dir``
    resumes the run stored there. ``options`` are further run options (``pending_limit_s``…).
    """
    req = RunRequest(
        inputs=articles, model=plan.model, mode=mode, budget_usd=budget_usd or None,
        max_attempts=max_attempts, run_options=options,
    )  # fmt: skip
    return req.create(run_dir, plan, client=client)


def monitor(run: Run, display: str = "auto", interval: float = 1.0) -> Any:
    """The run's live monitor panel (:meth:`gembatch.Run.monitor`; ``display``: auto | widget | static).

    Without a panel installed (gembatch-widgets), the run itself: its text repr is the static view.
    """
    try:
        return run.monitor(display=display or None, interval=interval)
    except GembatchError:
        return run


def wait(run: Run, panel: Any = None, max_wait_s: float = 0.0, *, report_every_s: float = 15.0) -> bool:
    """Drive ``run`` until done or ``max_wait_s`` seconds (0: no limit); True when every article is settled.

    Prints a progress line when the counts changed (for headless logs: ``papermill --log-output``),
    then refreshes ``panel``'s displayed snapshot. Returning early leaves the jobs in flight:
    running the same notebook again resumes them.
    """
    deadline = time.monotonic() + max_wait_s if max_wait_s > 0 else None
    last, finished = "", False
    while not finished:
        remaining = report_every_s if deadline is None else min(report_every_s, deadline - time.monotonic())
        if remaining <= 0:
            break
        finished = run.wait(timeout=remaining, progress=False)
        line = summary_line(run.summary())
        if line != last:
            print(time.strftime("%H:%M:%S"), line, flush=True)
            last = line
        if not finished and deadline is not None:
            time.sleep(max(0.0, min(0.2, deadline - time.monotonic())))  # run.wait returns a poll early
    if panel is not None and panel is not run:
        panel.wait(timeout=0)  # refresh the displayed snapshot to the current state
    return finished


def example_results(
    run_dir: str | os.PathLike[str],
    n: int = 300,
    *,
    model: str = "gemini-3.5-flash-lite",
    emulator_speed: float = 50_000.0,
) -> Path:
    """Run ``n`` short synthetic articles on the embedded emulator; return the ``results.parquet`` path.

    For tutorials that need a results file to analyse. Re-running reuses the finished run.
    """
    from gembatch.inputs.datasets import synthetic_articles
    from gembatch.presentation.report import write_report

    path = Path(run_dir)
    client = connect_backend("emulator", emulator_speed=emulator_speed, state_dir=path / EMULATOR_STATE)
    req = RunRequest(
        inputs=synthetic_articles(n, mean_chars=3000, seed=11), id_col="id", model=model,
        prompt="Summarise this article in one sentence:\n\n{text}", chunk_tokens=60_000,
    )  # fmt: skip
    run = req.plan_and_create(path, client=client)
    run.wait(progress=False)
    write_report(run)
    return path / "results.parquet"


def storage_left(client: Any, run: Run) -> dict[str, Any]:
    """What a Vertex run still holds where its data lives (extra keys for ``report.write_report``).

    ``{"left_in_storage": {"where": ..., "objects": n}}``: every Cloud Storage object under the
    run's prefix of the bucket (inputs and prediction files), or every BigQuery table of the run in
    the dataset; ``n`` is 0 once every chunk is collected. ``{}`` for any other backend.
    """
    if not str(getattr(client, "name", "") or "").startswith("vertex"):
        return {}
    tables = getattr(client, "bq", None)
    if tables is not None:
        where = f"bq://{tables.dataset} (the run's tables)"
        count = len(tables.list_tables(f"gembatch/{run.run_id}/"))
    else:
        prefix = f"{client.prefix}/{run.run_id}/"
        where = f"gs://{client.bucket}/{prefix}"
        count = sum(1 for _ in client.storage.list_blobs(client.bucket, prefix=prefix))
    return {"left_in_storage": {"where": where, "objects": count}}


def closing_block(run_dir: str | os.PathLike[str], since: float | None = None) -> str:
    """A few lines to end a headless run with: outcome, articles, cost, duration, where the files are.

    ``since`` (epoch seconds: when this invocation started) lets it say whether the run was
    reopened and how many jobs this invocation submitted ("nothing submitted" on a re-run).
    """
    import json

    import pandas as pd

    from gembatch.presentation import formatters as fmt
    from gembatch.runs.run import Run

    path = Path(run_dir)
    run = Run.open(path)
    s = run.summary()
    try:
        saved = json.loads((path / "summary.json").read_text("utf-8"))
        created = float(json.loads((path / "run.json").read_text("utf-8"))["created_at"])
    except (OSError, ValueError, KeyError, TypeError):
        saved, created = {}, None
    emulated = "emulat" in str(saved.get("backend", "")) or (path / EMULATOR_STATE).is_dir()
    if not s.done:
        outcome = f"{s.state}: work still in flight; run the same command again to go on"
    elif s.failed:
        outcome = f"{s.state}: {fmt.count(s.failed)} article(s) failed (see results.parquet, column error)"
    else:
        outcome = f"{s.state}: every article succeeded"
    lines = [
        f"outcome:   {outcome}",
        f"articles:  {fmt.count(s.succeeded)} ok, {fmt.count(s.failed)} failed, "
        f"{fmt.count(s.pending)} pending (of {fmt.count(s.articles)})",
        f"cost:      {fmt.usd(s.cost_actual_usd)}"
        + (" (emulated: what Gemini would charge; nothing was spent)" if emulated else ""),
    ]
    if since is not None:
        events = run.events()
        when = pd.to_datetime(events["time"], utc=True)
        recent = when >= pd.Timestamp(since, unit="s", tz="UTC")
        submitted = int(((events["kind"] == "submitted") & recent).sum())
        took = f"duration:  {fmt.duration(time.time() - since)} this time"
        if s.elapsed_s is not None:
            took += f" (the run itself: {fmt.duration(s.elapsed_s)})"
        lines.append(took)
        if created is not None and created < since:
            sent = "nothing submitted" if not submitted else f"{submitted} job(s) submitted"
            state = "finished" if s.done and not submitted else "unfinished"
            lines.append(f"reopened:  the {state} run in {path}; {sent} this time")
    left = saved.get("left_in_storage")
    if isinstance(left, dict):
        count = fmt.count(int(left.get("objects", 0)))
        lines.append(f"storage:   {count} object(s) left in {left.get('where')}")
    kept = ("results.parquet", "summary.json", "runbook.ipynb", "papermill.log")
    names = [n for n in kept if (path / n).exists()]
    lines.append(f"files:     in {path}/: " + ", ".join(names))
    width = max(len(line) for line in lines)
    rule = "-" * min(width, 100)
    return "\n".join([rule, *lines, rule])


def _main(argv: list[str] | None = None) -> int:
    """``python -m gembatch.runbook RUN_DIR [--since EPOCH]``: print :func:`closing_block` (``make demo``)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m gembatch.runbook", description=_main.__doc__)
    parser.add_argument("run_dir")
    parser.add_argument("--since", type=float, default=None, help="when this invocation started (epoch s)")
    args = parser.parse_args(argv)
    try:
        print(closing_block(args.run_dir, args.since))
    except GembatchError as exc:
        print(f"gembatch: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
