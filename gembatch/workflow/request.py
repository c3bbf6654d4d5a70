"""``RunRequest``: every option of a run in one typed, validated object that plans and creates it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from gembatch.errors import BudgetExceeded, GembatchError, InputError
from gembatch.inputs.schemas import load_schema, read_text_file
from gembatch.inputs.values import check_attempts, check_budget
from gembatch.planning.catalog import DEFAULT_MODEL
from gembatch.planning.plan import POLICIES
from gembatch.presentation import formatters as fmt
from gembatch.transport.connect import check_backend_options
from gembatch.workflow.sources import check_results_in, check_source, is_bigquery, read_source

if TYPE_CHECKING:
    import pandas as pd

    from gembatch.cache.lookup import CacheLookup
    from gembatch.inputs.tokens import TokenEstimator
    from gembatch.planning.catalog import Catalog
    from gembatch.planning.cost import Estimate
    from gembatch.planning.plan import Plan
    from gembatch.runs.run import Run

__all__ = ["DEFAULT_MODEL", "MODES", "RunRequest"]

MODES = ("batch", "realtime")
# Fields read from files: a string or path names the file (REST bodies never carry them).
FILE_FIELDS = ("prompt_file", "system_file", "catalog")
# The fields the articles are read with: changing one means reading them again.
_READ_WITH = frozenset({"inputs", "query", "id_col", "text_col", "model", "catalog", "estimator"})
# The fields of the transport: changing one means connecting again.
_CONNECT_WITH = frozenset({"backend", "project", "location", "bucket", "dataset"})
_EMPTY_PROMPT = "prompt is empty: give a template with {text}, or prompt_file"


@dataclass(frozen=True, kw_only=True, eq=False)
class RunRequest:
    """Everything a run needs, validated once; the CLI, REST API, runbooks and panels all build one.

    Parameters
    ----------
    inputs, query
        Articles: a file path (.jsonl, .json, .csv, .parquet), a ``bq://project.dataset.table``, a
        DataFrame or a list of dicts/strings; or ``query``, a BigQuery standard-SQL ``SELECT`` (not both).
        BigQuery is read through the backend's (``"vertex"`` or ``"vertex-emulator"`` with ``dataset``).
    model, tier
        The model id and the account tier whose quota and rate limits apply.
    prompt, prompt_file
        The prompt template (``{text}`` or any column), or a UTF-8 file holding it (not both).
    system_instruction, system_file
        A system instruction, or a file holding it (not both).
    schema
        Structured output: a JSON-schema dict, a pydantic model, a ``.json`` file or ``"module:Model"``.
    temperature, max_output_tokens, thinking_budget
        Generation settings sent with every request.
    expected_output_tokens, expected_thinking_tokens
        What the estimate assumes per article (default: the model's catalogue figures).
    chunk_tokens, inline, policy, headroom
        How the planner splits the work (see :func:`gembatch.plan`).
    catalog, estimator
        A catalogue override (a :class:`~gembatch.Catalog`, a TOML/JSON path or a dict) and a token estimator.
    billing_date, project
        Prices in force on this date (default today); whose learned limits apply (see :func:`gembatch.plan`),
        and with a Vertex backend the Google Cloud project (default: the credentials' project).
    backend, location, bucket, dataset
        The backend (default: :func:`gembatch.connect`'s choice) and its settings, as for
        ``gb.connect(backend=...)``: ``"vertex"`` takes ``location`` and ``bucket`` (Vertex's limits apply).
    budget_usd
        Never commit more than this (dollars; ``None``: no budget). Checked against the cost of ``mode``.
    mode, realtime
        ``"batch"`` (half price) or ``"realtime"``; ``realtime``: :class:`~gembatch.RealtimeOptions` fields.
    max_attempts, run_id, pending_limit_s, cancel_stale, run_options
        Run settings (see :meth:`gembatch.Run.create`); ``run_options`` passes further operational knobs.
    cache, cache_dir
        Take answers already paid for from the response cache (default on) and plan only the rest;
        ``cache_dir`` (default ``$GEMBATCH_CACHE_DIR``, else the user's cache directory) says where it is.
    deadline, deadline_usd
        Finish by this time (``"16:00"``) or within this duration (``"2h"``): jobs that would miss it go
        through real time, which may cost at most ``deadline_usd`` (see :meth:`gembatch.Run.set_deadline`).
    id_col, text_col
        Input columns holding the article id and text.
    results_in
        ``"local"`` (default) or ``"bigquery"``: keep the output tables (see :meth:`gembatch.Run.create`).

    Examples
    --------
    >>> req = RunRequest(inputs=gb.synthetic_articles(20), prompt="Summarise: {text}")  # doctest: +SKIP
    >>> req.estimate().batch_cost_usd                                                 # doctest: +SKIP
    >>> run = req.plan_and_create("runs/demo")                                        # doctest: +SKIP
    """

    inputs: Any = field(default=None, repr=False)  # a DataFrame's repr would drown the options
    model: str = DEFAULT_MODEL
    tier: str = "tier1"
    prompt: str | None = None
    prompt_file: str | os.PathLike[str] | None = None
    system_instruction: str | None = None
    system_file: str | os.PathLike[str] | None = None
    schema: Any = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    thinking_budget: int | None = None
    expected_output_tokens: int | None = None
    expected_thinking_tokens: int | None = None
    chunk_tokens: int | None = None
    inline: bool | None = None
    catalog: Any = None
    estimator: TokenEstimator | None = None
    billing_date: str | dt.date | None = None
    project: Any = "auto"
    budget_usd: float | None = None
    policy: Literal["tail", "rolling", "waves"] = "tail"
    headroom: float = 0.9
    mode: Literal["batch", "realtime"] = "batch"
    realtime: Mapping[str, Any] | None = None
    max_attempts: int = 3
    run_id: str | None = None
    pending_limit_s: float | None = None
    cancel_stale: bool | None = None
    run_options: Mapping[str, Any] = field(default_factory=dict)
    id_col: str | None = None
    text_col: str | None = None
    cache: bool = True
    cache_dir: str | os.PathLike[str] | None = None
    deadline: Any = None
    deadline_usd: float | None = None
    backend: str | None = None
    location: str | None = None
    bucket: str | None = None
    dataset: str | None = None
    query: str | None = None
    results_in: str | None = None

    def __post_init__(self) -> None:
        for name in ("prompt_file", "system_instruction", "system_file", "schema", "catalog", "run_id",
                     "id_col", "text_col", "billing_date", "cache_dir", "deadline", "backend",
                     "location", "bucket", "dataset", "query", "results_in"):  # fmt: skip
            if isinstance(getattr(self, name), str) and not getattr(self, name).strip():
                object.__setattr__(self, name, None)  # "" from a form or a notebook parameter: unset
        self._validate()

    # -- validation ----------------------------------------------------------------------------
    def _validate(self) -> None:
        check_source(self.inputs, self.query, self.backend, self.dataset)
        check_results_in(self.results_in, self.backend, self.dataset)
        if not isinstance(self.model, str) or not self.model.strip():
            raise InputError(f"model must be a model id, e.g. {DEFAULT_MODEL!r}", field="model")
        if self.prompt is not None and self.prompt_file is not None:
            raise InputError("give prompt or prompt_file, not both", field="prompt")
        if self.prompt is not None and not self.prompt.strip():
            raise InputError(_EMPTY_PROMPT, field="prompt")
        if self.system_instruction is not None and self.system_file is not None:
            raise InputError("give system_instruction or system_file, not both", field="system_instruction")
        if self.policy not in POLICIES:
            raise InputError(
                f"policy must be one of {', '.join(POLICIES)}, not {self.policy!r}", field="policy"
            )
        if self.mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}", field="mode")
        check_budget(self.budget_usd)
        from gembatch.runs.deadline import parse_deadline

        parse_deadline(self.deadline)
        check_budget(self.deadline_usd, "deadline_usd")
        if not isinstance(self.cache, bool):
            raise InputError(f"cache must be true or false, not {self.cache!r}", field="cache")
        _number("headroom", self.headroom, low=0.0, high=1.0, low_open=True)
        check_attempts(self.max_attempts)
        for name in ("max_output_tokens", "chunk_tokens", "expected_output_tokens"):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), low=1)
        if self.expected_thinking_tokens is not None:
            _integer("expected_thinking_tokens", self.expected_thinking_tokens, low=0)
        if self.thinking_budget is not None:
            _integer("thinking_budget", self.thinking_budget, low=-1)
        if self.temperature is not None:
            _number("temperature", self.temperature, low=0.0, high=2.0)
        if self.pending_limit_s is not None:
            _number("pending_limit_s", self.pending_limit_s, low=0.0, low_open=True)
        if self.billing_date is not None:
            from gembatch.planning.price_schedule import as_date

            try:
                as_date(self.billing_date)
            except (GembatchError, TypeError, ValueError):
                raise InputError(
                    f"billing_date must be a date such as '2027-01-01', not {self.billing_date!r}",
                    field="billing_date",
                ) from None
        check_backend_options(self.backend, location=self.location, bucket=self.bucket, dataset=self.dataset)
        if self.realtime is not None:
            from gembatch.runs.realtime_send import RealtimeOptions

            try:
                RealtimeOptions.from_dict(self.realtime)
            except (TypeError, ValueError) as exc:
                raise InputError(f"realtime options: {exc}", field="realtime") from None

    # -- inputs, read once ---------------------------------------------------------------------
    @cached_property
    def resolved_catalog(self) -> Catalog:
        """The catalogue: the default one with ``catalog`` applied on top."""
        from gembatch.planning.catalog import Catalog, load_catalog
        from gembatch.planning.vertex_limits import vertex_catalog

        base = self.catalog if isinstance(self.catalog, Catalog) else load_catalog(self.catalog)
        return vertex_catalog(base) if str(self.backend or "").startswith("vertex") else base

    @cached_property
    def resolved_prompt(self) -> str:
        """The prompt template (from ``prompt_file`` when given)."""
        return load_prompt(self.prompt, self.prompt_file)

    @cached_property
    def resolved_system_instruction(self) -> str | None:
        """The system instruction (from ``system_file`` when given), or ``None``."""
        if self.system_file is not None:
            return read_text_file(self.system_file, "system_file")
        return self.system_instruction

    @cached_property
    def resolved_schema(self) -> Any:
        """The response schema: a dict or a pydantic model (``.json`` files and ``module:Model`` loaded)."""
        return load_schema(self.schema)

    @cached_property
    def articles(self) -> pd.DataFrame:
        """The validated articles frame (read once)."""
        client = self.connect() if is_bigquery(self.inputs, self.query) else None
        return read_source(self.inputs, self.query, client, id_col=self.id_col, text_col=self.text_col,
                           model=self.model, catalog=self.resolved_catalog,
                           estimator=self.estimator)  # fmt: skip

    def load(self) -> RunRequest:
        """Read the articles and every file now, so their errors surface here; returns ``self``."""
        for name in ("resolved_catalog", "resolved_prompt", "resolved_system_instruction",
                     "resolved_schema", "articles"):  # fmt: skip
            getattr(self, name)
        return self

    # -- what the library gets -----------------------------------------------------------------
    def spec_kwargs(self) -> dict[str, Any]:
        """The request settings shared by :func:`gembatch.estimate` and :func:`gembatch.plan`."""
        return {
            "model": self.model,
            "prompt": self.resolved_prompt,
            "system_instruction": self.resolved_system_instruction,
            "schema": self.resolved_schema,
            "tier": self.tier,
            "expected_output_tokens": self.expected_output_tokens,
            "expected_thinking_tokens": self.expected_thinking_tokens,
            "temperature": self.temperature,
            "max_output_tokens": self.max_output_tokens,
            "thinking_budget": self.thinking_budget,
            "catalog": self.resolved_catalog,
            "estimator": self.estimator,
            "billing_date": self.billing_date,
            "project": self.project,
        }

    def cache_lookup(self, client: Any = None) -> CacheLookup | None:
        """Which articles the response cache already answers (``None`` with the cache off).

        The key includes the backend: ``client``'s, else the one :func:`gembatch.connect` would pick.
        """
        from gembatch.cache.lookup import backend_kind, lookup, open_cache
        from gembatch.planning.cost import make_spec

        store = open_cache(self.cache, self.cache_dir)
        if store is None:
            return None
        kw = self.spec_kwargs()
        spec = make_spec(None, kw["model"], kw["prompt"], kw["system_instruction"], kw["schema"],
                         temperature=self.temperature, max_output_tokens=self.max_output_tokens,
                         thinking_budget=self.thinking_budget)  # fmt: skip
        with store:
            kind = self.backend if client is None and self.backend else backend_kind(client)
            return lookup(self.articles, spec, kind, store)

    def _to_run(self, client: Any) -> tuple[pd.DataFrame, CacheLookup | None]:
        """The articles to estimate and plan: the cache's misses (all of them with the cache off)."""
        found = self.cache_lookup(client)
        if found is None or not found.hits:
            return self.articles, found
        return self.articles.loc[list(found.misses)], found

    def estimate(self, client: Any = None) -> Estimate:
        """Tokens and cost, batch against real time (:func:`gembatch.estimate`), of what the cache
        does not answer; ``cache_hits``, ``cache_misses`` and ``cache_saved_usd`` say how much it does."""
        from gembatch.cache.lookup import note_estimate
        from gembatch.planning.cost import estimate

        articles, found = self._to_run(client)
        est = estimate(articles, **self.spec_kwargs())
        note_estimate(est, found)
        return est

    def budget_problem(self, cost: Estimate) -> str | None:
        """Why ``cost`` breaks the budget for this request's mode, or ``None``: the one budget check."""
        if self.budget_usd is None:
            return None
        figure = cost.realtime_cost_usd if self.mode == "realtime" else cost.batch_cost_usd
        if figure <= self.budget_usd:
            return None
        label = "real-time" if self.mode == "realtime" else "batch"
        return (
            f"estimated {label} cost {fmt.usd(figure)} for {fmt.count(cost.articles)} articles exceeds the "
            f"budget: over budget_usd={self.budget_usd:g}; raise the budget, trim the input, shorten the "
            "prompt or pick a cheaper model"
        )

    def plan(self, *, check_budget: bool = True, client: Any = None) -> Plan:
        """The plan (:func:`gembatch.plan`) of what the response cache does not answer; raises
        :class:`~gembatch.BudgetExceeded` over budget.

        ``check_budget=False`` returns the plan anyway (e.g. to show what is over budget).
        ``client``: the backend the run will use (its answers are cached apart from others').
        """
        from gembatch.cache.lookup import cache_note, note_estimate
        from gembatch.planning.plan import plan

        name = str(getattr(client, "name", "") or "")
        if self.backend is None and name.startswith("vertex"):  # a Vertex transport: Vertex's limits
            # and its project's learned limits, never those the Developer API taught ("auto")
            project = (getattr(client, "project", "") or None) if self.project == "auto" else self.project
            dataset = self.dataset or getattr(client, "dataset", None)
            vertex = self.replace(backend=name, project=project, dataset=dataset)
            return vertex.plan(check_budget=check_budget, client=client)
        articles, found = self._to_run(client)
        work = plan(articles, policy=self.policy, headroom=self.headroom, budget_usd=None,
                    chunk_tokens=self.chunk_tokens, inline=self.inline, **self.spec_kwargs())  # fmt: skip
        if note_estimate(work.cost, found):
            work = dataclasses.replace(work, notes=(*work.notes, cache_note(work.cost.summary)))
        problem = self.budget_problem(work.cost)
        if check_budget and problem:
            raise BudgetExceeded(problem)
        return dataclasses.replace(work, budget_usd=self.budget_usd)

    def run_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`gembatch.Run.create` (besides the client)."""
        knobs: dict[str, Any] = {**self.run_options, "mode": self.mode}
        if self.realtime:
            knobs["realtime"] = dict(self.realtime)
        for name in ("pending_limit_s", "cancel_stale", "results_in"):
            if getattr(self, name) is not None:
                knobs[name] = getattr(self, name)
        knobs.setdefault("cache", self.cache)
        if self.deadline is not None:
            knobs.setdefault("deadline", self.deadline)
            knobs.setdefault("deadline_usd", self.deadline_usd)
        if self.cache_dir is not None:
            knobs.setdefault("cache_dir", self.cache_dir)
        return {
            "max_attempts": self.max_attempts,
            "budget_usd": self.budget_usd,
            "run_id": self.run_id,
            **knobs,
        }

    def create(
        self,
        run_dir: str | os.PathLike[str],
        plan: Plan | None = None,
        client: Any = None,
        *,
        force: bool = False,
    ) -> Run:
        """Create the run in ``run_dir`` from ``plan`` (default: :meth:`plan`), or reopen the same one.

        ``force`` starts a new run over a directory whose ledger is damaged (see
        :class:`~gembatch.LedgerDamaged`), setting the old files aside first.
        """
        from gembatch.runs.backend_record import check_backend_name, recorded
        from gembatch.runs.run import Run

        if client is None and self.backend is not None:  # a run there on another backend: refused first
            check_backend_name(recorded(run_dir), self.backend, run_dir)
            client = self.connect()
        work = plan if plan is not None else self.plan(client=client)
        try:
            return Run.create(run_dir, self.articles, work, client=client, force=force, **self.run_kwargs())
        except TypeError as exc:  # an unknown name in run_options
            raise InputError(str(exc), field="run_options") from None

    def plan_and_create(
        self, run_dir: str | os.PathLike[str], client: Any = None, *, force: bool = False
    ) -> Run:
        """Plan, check the budget, and create (or reopen) the :class:`~gembatch.Run` in ``run_dir``."""
        return self.create(run_dir, self.plan(client=client), client, force=force)

    def connect(self) -> Any:
        """The transport of :attr:`backend` with this request's settings (``None``: no backend named);
        made once, so a BigQuery input and the run's jobs use the same one."""
        from gembatch.transport.connect import connect_backend

        if self.backend is None or "_transport" in self.__dict__:
            return self.__dict__.get("_transport")
        facts = {"project": self.project, "location": self.location, "bucket": self.bucket,
                 "dataset": self.dataset}  # fmt: skip
        self.__dict__["_transport"] = connect_backend(self.backend, facts)
        return self.__dict__["_transport"]

    def replace(self, **changes: Any) -> RunRequest:
        """A copy with some fields changed (validated again); articles already read are kept."""
        copy = dataclasses.replace(self, **changes)
        if "articles" in self.__dict__ and not changes.keys() & _READ_WITH:
            copy.__dict__["articles"] = self.__dict__["articles"]  # e.g. an upload that is gone by now
        if "_transport" in self.__dict__ and not changes.keys() & _CONNECT_WITH:
            copy.__dict__["_transport"] = self.__dict__["_transport"]
        return copy

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Every option of a run, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))


def load_prompt(prompt: str | None, prompt_file: str | os.PathLike[str] | None = None) -> str:
    """The prompt template: ``prompt_file``'s contents when given, else ``prompt`` (default ``{text}``)."""
    if prompt_file:
        text = read_text_file(prompt_file, "prompt_file")
        if not text.strip():
            raise InputError(f"prompt_file {str(prompt_file)!r} is empty", field="prompt_file")
        return text
    if prompt is not None and not prompt.strip():
        raise InputError(_EMPTY_PROMPT, field="prompt")
    return "{text}" if prompt is None else prompt


def _integer(name: str, value: Any, *, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"{name} must be a whole number ≥ {low}, not {value!r}", field=name)


def _number(name: str, value: Any, *, low: float, high: float | None = None, low_open: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (high is None or value <= high)
    if not ok:
        lo = f"({low:g}" if low_open else f"[{low:g}"
        hi = f"{high:g}]" if high is not None else "∞)"
        raise InputError(f"{name} must be a number in {lo}, {hi}, not {value!r}", field=name)
