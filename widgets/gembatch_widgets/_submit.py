"""SubmitPanel: choose input, model, prompt and budget; see a live estimate; submit a durable run."""

from __future__ import annotations

import html
import json
import os
import re
from typing import Any

import ipywidgets as widgets
import pandas as pd

import gembatch
from gembatch.planning.catalog import TIERS
from gembatch.presentation import formatters as fmt
from gembatch.presentation import html_repr as _html
from gembatch.workflow import DEFAULT_MODEL, MODES
from gembatch_widgets._display import SnapshotDisplay
from gembatch_widgets._estimate import PlanSummary, summarize
from gembatch_widgets._form import INVALID_CSS, field_problem, request_preview, schema_dict
from gembatch_widgets._form import error_html as _error
from gembatch_widgets._monitor import MonitorPanel

__all__ = ["SubmitPanel"]

_WIDE = widgets.Layout(width="100%", max_width="720px")
_STYLE = {"description_width": "110px"}


class SubmitPanel(SnapshotDisplay):
    """Pick the input and the request, watch the estimate, and submit a run guarded by the budget.

    Parameters
    ----------
    articles
        A DataFrame (from ``gb.read_articles`` or raw), a file path, or ``None`` to type a path.
    run_dir
        Where the run's ledger goes; submitting again with the same inputs reopens (resumes) it.
    model, tier, prompt, system_instruction, schema, budget_usd, policy, mode, expected_output_tokens
        Initial values of the inputs (``schema``: a JSON-schema dict or a pydantic model;
        ``expected_output_tokens``: per article, ``None`` to let the catalogue estimate it).
    client
        The ``genai.Client`` (default ``gb.connect()``: the emulator when no API key is set).
    catalog
        A catalogue override (a :class:`gembatch.Catalog`, a TOML/JSON path or a dict).
    display
        ``"auto"`` | ``"widget"`` | ``"static"`` (default ``$GEMBATCH_DISPLAY`` or auto).
    monitor_interval
        Refresh interval (s) of the MonitorPanel shown after Submit.
    options
        Further :class:`gembatch.RunRequest` fields (e.g. ``chunk_tokens``, ``headroom``,
        ``max_attempts``, ``thinking_budget``); the form's inputs set the others.

    Examples
    --------
    >>> panel = SubmitPanel(articles, run_dir="runs/demo")   # doctest: +SKIP
    >>> panel.model.value = "gemini-2.5-flash"                # the estimate refreshes  # doctest: +SKIP
    >>> panel.submit()                                        # same as clicking Submit  # doctest: +SKIP
    """

    def __init__(
        self,
        articles: Any = None,
        *,
        run_dir: str | os.PathLike[str] = "runs/gembatch",
        model: str | None = None,
        tier: str = "tier1",
        prompt: str = "{text}",
        system_instruction: str = "",
        schema: Any = None,
        budget_usd: float | None = None,
        policy: str = "tail",
        mode: str = "batch",
        expected_output_tokens: int | None = None,
        client: Any = None,
        catalog: Any = None,
        display: str | None = None,
        monitor_interval: float = 1.0,
        **options: Any,
    ) -> None:
        self._init_display(display)
        self.client = client
        self.catalog = catalog if isinstance(catalog, gembatch.Catalog) else gembatch.load_catalog(catalog)
        self.monitor_interval = monitor_interval
        self.options = options
        self.articles: pd.DataFrame | None = None
        self._input_problem: str | None = None
        self.summary = PlanSummary()
        self.plan: gembatch.Plan | None = None
        self.run: gembatch.Run | None = None
        self.monitor: MonitorPanel | None = None

        ids = self.catalog.ids()
        model = model or (DEFAULT_MODEL if DEFAULT_MODEL in ids else ids[0])
        self.source = widgets.Text(
            value="" if articles is None or isinstance(articles, pd.DataFrame) else str(articles),
            description="input file",
            placeholder="articles.jsonl / .csv / .parquet",
            layout=_WIDE,
            style=_STYLE,
            continuous_update=False,
        )
        self.preview = widgets.HTML()
        self.model = widgets.Dropdown(options=ids, value=model, description="model", style=_STYLE)
        self.model.add_class("gb-submit-model")
        self.tier = widgets.Dropdown(options=list(TIERS), value=tier, description="tier", style=_STYLE)
        self.prompt = widgets.Textarea(
            value=prompt,
            description="prompt",
            placeholder="a template: {text} is the article",
            rows=6,
            layout=widgets.Layout(width="100%", max_width="720px", height="130px"),
            style=_STYLE,
            continuous_update=False,
        )
        self.system_instruction = widgets.Textarea(
            value=system_instruction,
            description="system",
            layout=_WIDE,
            style=_STYLE,
            continuous_update=False,
        )
        schema_text = "" if schema is None else json.dumps(schema_dict(schema), indent=1)
        self.schema = widgets.Textarea(
            value=schema_text,
            description="output schema",
            placeholder='optional JSON schema, e.g. {"type": "object", "properties": {...}}',
            layout=_WIDE,
            style=_STYLE,
            continuous_update=False,
        )
        self.budget = widgets.BoundedFloatText(
            value=budget_usd or 0.0, min=0.0, max=1e9, description="budget USD", style=_STYLE
        )
        self.budget.tooltip = "0 means no budget"
        self.budget_hint = widgets.HTML()
        self.expected_output = widgets.BoundedIntText(
            value=expected_output_tokens or 0,
            min=0,
            max=1_000_000,
            description="output tokens",
            tooltip="expected output tokens per article (0: estimate from the model's catalogue entry)",
            style=_STYLE,
        )
        self.expected_output.add_class("gb-submit-output-tokens")
        self.policy = widgets.Dropdown(
            options=["tail", "rolling", "waves"], value=policy, description="policy", style=_STYLE
        )
        self.mode = widgets.ToggleButtons(options=list(MODES), value=mode, description="mode", style=_STYLE)
        self.cache = widgets.Checkbox(value=bool(options.pop("cache", True)), description="cached answers")
        self.run_dir = widgets.Text(
            value=str(run_dir),
            description="run directory",
            layout=_WIDE,
            style=_STYLE,
            continuous_update=False,
        )
        self.estimate_html = widgets.HTML()
        self.estimate_html.add_class("gb-submit-estimate")
        self.request_preview = widgets.HTML()
        self.request_preview.add_class("gb-submit-preview")
        self.submit_button = widgets.Button(
            description="Submit",
            icon="paper-plane",
            button_style="primary",
            layout=widgets.Layout(width="140px", min_width="140px", flex="0 0 140px"),
        )
        self.submit_button.add_class("gb-submit")
        self.submit_button.on_click(lambda _b: self._on_submit())
        self.new_run_button = widgets.Button(
            description="New run",
            icon="plus",
            tooltip="unlock the form to prepare another run (the submitted run goes on)",
            layout=widgets.Layout(width="140px", min_width="140px", display="none"),
        )
        self.new_run_button.add_class("gb-submit-new-run")
        self.new_run_button.on_click(lambda _b: self.new_run())
        self.status = widgets.HTML(layout=widgets.Layout(flex="1 1 auto"))
        self.status.add_class("gb-submit-status")
        self.monitor_box = widgets.VBox()
        self.monitor_box.add_class("gb-submit-monitor")
        self.backend_label = widgets.HTML(f"<b>backend</b>: {html.escape(self.backend_text())}")
        self.backend_label.add_class("gb-submit-backend")

        # one message line under each field; a problem shows once, next to the field it is about
        self.inputs: dict[str, widgets.Widget] = {
            "source": self.source, "model": self.model, "tier": self.tier, "prompt": self.prompt,
            "system_instruction": self.system_instruction, "schema": self.schema,
            "budget": self.budget, "expected_output": self.expected_output, "run_dir": self.run_dir,
        }  # fmt: skip
        self.messages = {name: widgets.HTML() for name in self.inputs}
        for name, message in self.messages.items():
            message.add_class(f"gb-msg-{name}")

        def row(*names: str) -> widgets.Widget:
            boxes = [widgets.VBox([self.inputs[n], self.messages[n]]) for n in names]
            return boxes[0] if len(boxes) == 1 else widgets.HBox(boxes)

        inputs = [row("source")] if not isinstance(articles, pd.DataFrame) else []
        form = widgets.VBox(
            [
                widgets.HTML(INVALID_CSS),
                *inputs,
                self.preview,
                row("model", "tier"),
                row("prompt"),
                self.request_preview,
                row("system_instruction"),
                row("schema"),
                widgets.HBox([widgets.VBox([self.budget, self.budget_hint, self.messages["budget"]]),
                              row("expected_output"), self.policy]),
                self.mode,
                self.cache,
                row("run_dir"),
                self.backend_label,
            ]
        )  # fmt: skip
        self.form = form
        self.widget = widgets.VBox(
            [
                form,
                self.estimate_html,
                widgets.HBox([self.submit_button, self.new_run_button, self.status]),
                self.monitor_box,
            ]
        )
        self.widget.add_class("gb-submit-panel")

        self.source.observe(self._on_source, names="value")
        for w in (self.model, self.tier, self.prompt, self.system_instruction, self.schema, self.budget,
                  self.expected_output):  # fmt: skip
            w.observe(self._on_change, names="value")
        for w in (self.policy, self.mode, self.cache):
            w.observe(self._on_change, names="value")
        if isinstance(articles, pd.DataFrame):
            self._set_articles(articles)
        elif articles is not None:
            self._on_source({"new": str(articles)})
        else:
            self.update_estimate()

    # --- inputs -------------------------------------------------------------------------------
    def _set_articles(self, source: Any) -> None:
        self._input_problem = None
        try:
            self.articles = gembatch.RunRequest(
                inputs=source, model=self.model.value, catalog=self.catalog
            ).articles
        except gembatch.GembatchError as exc:
            self.articles = None
            self.preview.value = ""
            self._input_problem = field_problem(exc)[1]
        else:
            table = _html.frame_table(self.articles[["text", "chars", "est_tokens"]], max_rows=4)
            self.preview.value = f'<div class="gb-repr">{table}</div>'
        self.update_estimate()

    def _on_source(self, change: Any) -> None:
        path = str(change["new"]).strip()
        if path:
            self._set_articles(path)

    def _on_change(self, _change: Any = None) -> None:
        self.update_estimate()

    def _schema_value(self) -> dict[str, Any] | None:
        text = self.schema.value.strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise gembatch.InputError(f"output schema is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise gembatch.InputError("output schema must be a JSON object")
        return value

    def request(self) -> gembatch.RunRequest:
        """The :class:`gembatch.RunRequest` the inputs describe now (budget 0 means none)."""
        if self.articles is None:
            raise gembatch.InputError(
                self._input_problem or "choose an input file (or pass a DataFrame)", field="inputs"
            )
        return gembatch.RunRequest(
            inputs=self.articles,
            model=self.model.value,
            tier=self.tier.value,
            prompt=self.prompt.value,
            system_instruction=self.system_instruction.value,
            schema=self._schema_value(),
            budget_usd=self.budget.value or None,
            expected_output_tokens=self.expected_output.value or None,
            policy=self.policy.value,
            mode=self.mode.value,
            catalog=self.catalog,
            cache=self.cache.value,
            **self.options,
        )

    # --- estimate -----------------------------------------------------------------------------
    def update_estimate(self) -> PlanSummary:
        """Recompute the plan and estimate from the inputs; enable Submit only within budget."""
        self.plan = None
        try:
            self.plan, self.summary = summarize(self.request())
        except gembatch.GembatchError as exc:
            field, message = field_problem(exc)
            self.summary = PlanSummary(mode=self.mode.value, error=message, field=field)
        self.estimate_html.value = self.summary.html(problems=self.summary.field is None)
        shown = self.plan or self.summary.plan
        self.request_preview.value = request_preview(self.articles, shown)
        self.budget_hint.value = (
            "<small>0 = no budget: the run may spend its whole estimate</small>"
            if not self.budget.value
            else f"<small>the run stops before spending more than {fmt.usd(self.budget.value)}</small>"
        )
        self._show_problem()
        self._update_button()
        return self.summary

    def _show_problem(self) -> None:
        """The one problem (if any) under its field, the field highlighted; every other field clear."""
        problem = self.summary.blocker()
        field = self.summary.field
        for name, message in self.messages.items():
            here = problem is not None and name == field
            message.value = _error(problem) if here and problem else ""
            widget = self.inputs[name]
            if here:
                widget.add_class("gb-invalid")
            else:
                widget.remove_class("gb-invalid")

    def _update_button(self) -> None:
        reason = self.summary.blocker()
        if self.run is not None:
            reason = reason or "submitted"
        self.submit_button.disabled = reason is not None
        self.submit_button.tooltip = reason or "create the run and start submitting"
        if self.run is None:
            # a problem with a field is shown under it; one without a field, here (once)
            loose = reason if reason and self.summary.field is None else None
            self.status.value = _error(loose) if loose else ""

    def _lock(self, locked: bool) -> None:
        """Lock the form after Submit, so the estimate always describes the submitted run."""
        for widget in (*self.inputs.values(), self.policy, self.mode, self.cache):
            widget.disabled = locked
        self.new_run_button.layout.display = "" if locked else "none"

    def new_run(self) -> None:
        """Unlock the form for another run (the submitted one goes on; its monitor stops refreshing)."""
        if self.monitor is not None:
            self.monitor.stop()
        self.run, self.monitor = None, None
        self.monitor_box.children = ()
        base = self.run_dir.value.rstrip("/")
        stem = re.sub(r"-\d+$", "", base)
        n = 2
        while os.path.exists(f"{stem}-{n}"):
            n += 1
        self.run_dir.value = f"{stem}-{n}"  # the same directory would reopen the run just sent
        self._lock(False)
        self.update_estimate()
        self.status.value = "<small>form unlocked: a new run directory is suggested</small>"

    # --- submit -------------------------------------------------------------------------------
    def _on_submit(self) -> None:
        try:
            self.submit()
        except Exception as exc:  # a button callback has nowhere else to report
            self.status.value = _error(f"submit failed: {exc}")

    def submit(self) -> MonitorPanel:
        """Create (or reopen) the run in ``run_dir``, start it and show its MonitorPanel."""
        if self.monitor is not None:
            return self.monitor
        summary = self.update_estimate()
        blocker = summary.blocker()
        if summary.over_budget:
            raise gembatch.BudgetExceeded(f"cannot submit: {blocker}")
        if blocker is not None or self.plan is None:
            raise gembatch.InputError(f"cannot submit: {blocker or 'no plan for these inputs'}")
        self.status.value = "<small>creating the run…</small>"
        run = self.request().create(self.run_dir.value, self.plan, client=self.client)
        self.run = run
        run.start()
        self.monitor = MonitorPanel(run, display="widget", interval=self.monitor_interval)
        self.monitor_box.children = (self.monitor.widget,)
        self._lock(True)
        self._update_button()
        self.status.value = f"<small>submitted to {_html.esc(self.run_dir.value)}</small>"
        self.refresh_display()
        return self.monitor

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the submitted run is done (see :meth:`MonitorPanel.wait`); False if none."""
        if self.monitor is None:
            return False
        done = self.monitor.wait(timeout)
        self.refresh_display()
        return done

    def stop(self) -> None:
        """Stop the monitor's refresh thread (the run itself keeps going)."""
        if self.monitor is not None:
            self.monitor.stop()
        self.refresh_display()

    def close(self) -> None:
        """Stop the monitor's thread, stop refreshing the displayed snapshot, and close the widgets."""
        if self.monitor is not None:
            self.monitor.close()
        self._remove_hook()
        self.widget.close()

    def backend_text(self) -> str:
        """Which backend the run targets, in one line (never a key or a token)."""
        if self.client is not None:
            return gembatch.describe(self.client)
        backend = self.options.get("backend")
        if not backend:
            return "gb.connect()'s choice: the Gemini API with a key, else the emulator"
        facts = [self.options.get(k) for k in ("project", "location", "bucket")]
        where = "/".join(str(v) for v in facts if v)
        return f"{backend} ({where})" if where else str(backend)

    # --- snapshot -----------------------------------------------------------------------------
    def _input_fields(self) -> dict[str, object]:
        n = len(self.articles) if self.articles is not None else None
        return {
            "input": f"{fmt.count(n)} articles" + (f" from {self.source.value}" if self.source.value else ""),
            "model": f"{self.model.value} · {self.tier.value} · {self.policy.value} · {self.mode.value}",
            "prompt": self.prompt.value,
            "budget": fmt.usd(self.budget.value) if self.budget.value else "no budget",
            "run directory": self.run_dir.value,
            "backend": self.backend_text(),
        }

    def snapshot_html(self) -> str:
        """Static HTML: the inputs, the estimate and (after Submit) the monitor's snapshot."""
        state = "submitted" if self.run is not None else ("blocked" if self.summary.blocker() else "ready")
        tone = {"submitted": "info", "blocked": "bad", "ready": "ok"}[state]
        head = _html.render(
            "gembatch submit", badges=[_html.state_badge(state, tone=tone)], fields=self._input_fields()
        )
        body = head + self.summary.html()
        if self.monitor is not None:
            body += self.monitor.snapshot_html()
        return body

    def snapshot_text(self) -> str:
        """Plain-text summary."""
        text = _html.render_text("gembatch submit", fields={**self._input_fields(), **self.summary.fields()})
        if self.monitor is not None:
            text += "\n" + self.monitor.snapshot_text()
        return text

    def finished(self) -> bool:
        """The submitted run's monitor has finished."""
        return self.monitor is not None and self.monitor.finished()

    def snapshot_key(self) -> object:
        """Changes when the estimate, the submission or the run's state changes."""
        monitor_key = self.monitor.snapshot_key() if self.monitor is not None else None
        return (self.summary.key(), self.run is not None, monitor_key)

    def __repr__(self) -> str:
        return self.snapshot_text()
