"""Helpers the notebooks call: pick a backend, load inputs, prompt and schema, create and watch a run."""

from __future__ import annotations

import getpass
import importlib
import inspect
import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gembatch.errors import BackendError, GembatchError, InputError

if TYPE_CHECKING:
    import pandas as pd
    from google import genai

    from gembatch.emulator import Emulator
    from gembatch.runs.run import Run

__all__ = [
    "BACKENDS",
    "MODES",
    "ask_api_key",
    "connect_backend",
    "create_run",
    "example_results",
    "load_articles",
    "load_prompt",
    "load_schema",
    "monitor",
    "wait",
]

BACKENDS = ("auto", "emulator", "gemini")
MODES = ("batch", "realtime")
EMULATOR_STATE = ".emulator"  # inside the run directory: the rehearsal service's jobs survive a restart

_lock = threading.Lock()
_emulators: dict[tuple[float, str, str], Emulator] = {}


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


def _embedded_emulator(speed: float, profile: str, state_dir: Path | None) -> Emulator:
    """One in-process emulator per (speed, profile, state directory), kept for the kernel's life."""
    from gembatch.emulator import Emulator

    key = (float(speed), str(profile), str(state_dir or ""))
    with _lock:
        emu = _emulators.get(key)
        if emu is None:
            emu = _emulators[key] = Emulator(speed=speed, profile=profile, state_dir=state_dir).start()
        return emu


def connect_backend(
    backend: str = "emulator",
    *,
    emulator_speed: float = 600.0,
    emulator_profile: str = "calm",
    state_dir: str | os.PathLike[str] | None = None,
) -> genai.Client:
    """A ``genai.Client`` for ``backend``: ``"auto"``, ``"emulator"`` or ``"gemini"``.

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
    if backend == "gemini" or (backend == "auto" and _has_key()):
        return connect(prefer="real")
    if os.environ.get(EMULATOR_URL_VAR, "").strip():
        return connect(prefer="emulator")
    emu = _embedded_emulator(emulator_speed, emulator_profile, Path(state_dir) if state_dir else None)
    print(
        f"gembatch: using the embedded Gemini emulator at {emu.base_url} (speed x{emulator_speed:g}, "
        f"profile {emulator_profile}); results are emulated, not produced by Gemini."
    )
    return emu.client()


def load_articles(
    input_path: str = "",
    *,
    synthetic: int = 12_000,
    mean_chars: int = 9000,
    id_col: str | None = None,
    text_col: str | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """Read ``input_path`` with :func:`gembatch.read_articles`; ``""`` makes ``synthetic`` articles."""
    from gembatch.inputs.articles import read_articles
    from gembatch.inputs.datasets import synthetic_articles

    if input_path:
        return read_articles(input_path, id_col or None, text_col or None, model=model)
    return read_articles(synthetic_articles(synthetic, mean_chars=mean_chars), "id", model=model)


def load_prompt(prompt: str, prompt_file: str = "") -> str:
    """The prompt template: the contents of ``prompt_file`` when given, else ``prompt``."""
    if prompt_file:
        path = Path(prompt_file)
        if not path.is_file():
            raise InputError(f"prompt_file {prompt_file!r} does not exist; pass a text file or use prompt=")
        return path.read_text(encoding="utf-8")
    if not prompt.strip():
        raise InputError("the prompt is empty: set prompt (a template with {text}) or prompt_file")
    return prompt


def load_schema(schema: str) -> Any:
    """A response schema from a notebook parameter.

    ``""`` → ``None`` (free text); ``"package.module:Model"`` → that pydantic model;
    a ``.json`` file → the Gemini Schema dict it holds.
    """
    if not schema:
        return None
    if schema.endswith(".json"):
        path = Path(schema)
        if not path.is_file():
            raise InputError(f"schema file {schema!r} does not exist")
        return json.loads(path.read_text(encoding="utf-8"))
    module, sep, name = schema.partition(":")
    if not sep or not module or not name:
        raise InputError(f"schema {schema!r}: use 'package.module:Model' or a path to a .json schema file")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"schema {schema!r} cannot be imported: {exc}") from None


def create_run(
    run_dir: str | os.PathLike[str],
    articles: pd.DataFrame,
    plan: Any,
    *,
    mode: str = "batch",
    client: Any = None,
    budget_usd: float | None = None,
    **options: Any,
) -> Run:
    """:meth:`gembatch.Run.create` with the runbook's ``mode`` (``"batch"`` or ``"realtime"``).

    Re-running with the same ``run_dir`` resumes the run stored there.
    """
    from gembatch.runs.run import Run

    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    from gembatch.runs.context import RunConfig

    if "mode" in inspect.signature(Run.create).parameters or "mode" in RunConfig.OPERATIONAL:
        options["mode"] = mode
    elif mode != "batch":
        raise GembatchError(
            f"mode={mode!r} needs a gembatch whose Run.create accepts mode=; use mode='batch'"
        )
    return Run.create(run_dir, articles, plan, client=client, budget_usd=budget_usd, **options)


def monitor(run: Run, display: str = "auto", interval: float = 1.0) -> Any:
    """A :class:`gembatch_widgets.MonitorPanel` for ``run`` (``display``: auto | widget | static).

    Without gembatch-widgets installed, the run itself (its text repr is the static view).
    """
    try:
        from gembatch_widgets import MonitorPanel
    except ImportError:
        return run
    return MonitorPanel(run, display=display or None, interval=interval)


def _progress(summary: dict[str, Any]) -> str:
    done = int(summary.get("succeeded") or 0) + int(summary.get("failed") or 0)
    failed, jobs = int(summary.get("failed") or 0), int(summary.get("jobs_in_flight") or 0)
    spent = float(summary.get("cost_actual_usd") or 0.0)
    return (
        f"{done:,}/{int(summary.get('articles') or 0):,} articles done ({failed:,} failed), "
        f"{jobs} jobs in flight, ${spent:.4f} spent"
    )


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
        line = _progress(run.summary().to_dict())
        if line != last:
            print(time.strftime("%H:%M:%S"), line, flush=True)
            last = line
        if not finished and deadline is not None:
            time.sleep(max(0.0, min(0.2, deadline - time.monotonic())))  # run.wait returns a poll early
    if panel is not None and panel is not run and callable(getattr(panel, "wait", None)):
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
    from gembatch.inputs.articles import read_articles
    from gembatch.inputs.datasets import synthetic_articles
    from gembatch.planning.plan import plan
    from gembatch.presentation.report import write_report

    path = Path(run_dir)
    client = connect_backend("emulator", emulator_speed=emulator_speed, state_dir=path / EMULATOR_STATE)
    articles = read_articles(synthetic_articles(n, mean_chars=3000, seed=11), "id", model=model)
    work = plan(
        articles, model, prompt="Summarise this article in one sentence:\n\n{text}", chunk_tokens=60_000
    )
    run = create_run(path, articles, work, client=client)
    run.wait(progress=False)
    write_report(run)
    return path / "results.parquet"
