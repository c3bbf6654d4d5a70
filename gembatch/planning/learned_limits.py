"""Limits the service teaches (429 quota details, models.list) and the user sets, per project and model.

Google no longer publishes one table of per-model limits: each project has its own. gembatch starts
from the catalogue, and whenever the service states a limit — the ``quotaValue`` of a QuotaFailure
violation in a 429, or the token limits of ``models.list`` — records it for that project (an API-key
fingerprint, never the key) and model, in a small JSON file. The next plan for that project uses it.
Limits set by the user (:func:`set_limits`) win over learned ones, learned ones over the catalogue.

The file is ``$GEMBATCH_LIMITS_FILE`` if set (``off`` disables reading and recording), else
``limits.json`` in the user's config directory (``~/.config/gembatch`` on Linux).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gembatch.errors import InputError
from gembatch.planning.catalog import TIERS, Catalog, ModelInfo

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LIMITS_FILE_VAR",
    "Project",
    "QuotaViolation",
    "apply_learned",
    "known_limits",
    "learn_from_error",
    "limit_origins",
    "limits_path",
    "project_of",
    "quota_violations",
    "record",
    "set_limits",
    "spend_cap",
]

logger = logging.getLogger(__name__)
LIMITS_FILE_VAR = "GEMBATCH_LIMITS_FILE"
# QuotaFailure metrics (after "generativelanguage.googleapis.com/") and the catalogue field they limit
_METRICS = {
    "batch_enqueued_tokens": "enqueued_tokens",
    "batch_concurrent_requests": "concurrent_batch_jobs",
    "generate_content_paid_tier_requests": "rpm",
    "generate_content_free_tier_requests": "rpm",
    "generate_content_paid_tier_input_token_count": "tpm",
    "generate_content_free_tier_input_token_count": "tpm",
}
PER_TIER = frozenset({"enqueued_tokens", "rpm", "tpm"})
# what a plan applies to the catalogue entry (other learned figures are recorded and shown only)
APPLIED = PER_TIER | {"concurrent_batch_jobs", "context_window", "max_output_tokens", "thinking"}
SETTABLE = APPLIED | {"spend_cap_usd_month"}
PROJECT_WIDE = frozenset({"concurrent_batch_jobs", "spend_cap_usd_month"})
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_REAL_HOST = "generativelanguage.googleapis.com"


@dataclass(frozen=True)
class QuotaViolation:
    """One violation of a 429's QuotaFailure detail: which quota, and its value (the limit)."""

    metric: str
    quota_id: str
    value: int | None
    dimensions: Mapping[str, str]

    @property
    def limit(self) -> str:
        """The catalogue field this quota limits (``enqueued_tokens``, ``rpm``…), else the metric's name."""
        short = self.metric.rsplit("/", 1)[-1]
        name = _METRICS.get(short, short)
        if name in ("rpm", "tpm") and "PerMinute" not in self.quota_id:
            return short  # a daily quota is not a per-minute one: recorded under its own name
        return name

    @property
    def tier(self) -> str | None:
        """``tier1``… from the quota id's suffix (``-Tier1``, ``-FreeTier``), if it has one."""
        suffix = self.quota_id.rsplit("-", 1)[-1].lower() if "-" in self.quota_id else ""
        suffix = "free" if suffix == "freetier" else suffix
        return suffix if suffix in TIERS else None

    @property
    def model(self) -> str | None:
        return self.dimensions.get("model")


def quota_violations(error: Any) -> list[QuotaViolation]:
    """The QuotaFailure violations in a 429: a google-genai ``APIError``, or its JSON body.

    Examples
    --------
    >>> body = {"error": {"code": 429, "details": [{
    ...     "@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
    ...         "quotaMetric": "generativelanguage.googleapis.com/batch_enqueued_tokens",
    ...         "quotaId": "BatchEnqueuedTokensPerModelPerProject-Tier1",
    ...         "quotaDimensions": {"model": "gemini-3.5-flash"}, "quotaValue": "2000000"}]}]}}
    >>> v = quota_violations(body)[0]
    >>> v.limit, v.tier, v.model, v.value
    ('enqueued_tokens', 'tier1', 'gemini-3.5-flash', 2000000)
    """
    body = getattr(error, "details", error)
    err = body.get("error", body) if isinstance(body, Mapping) else {}
    out = []
    for item in (err.get("details") if isinstance(err, Mapping) else None) or []:
        if not (isinstance(item, Mapping) and str(item.get("@type", "")).endswith("QuotaFailure")):
            continue
        for v in item.get("violations") or []:
            if not isinstance(v, Mapping):
                continue
            try:
                value: int | None = int(float(str(v.get("quotaValue"))))
            except ValueError:
                value = None  # older answers carry no quotaValue: the violation still names the quota
            raw = v.get("quotaDimensions")
            dims: dict[str, str] = dict(raw) if isinstance(raw, Mapping) else {}
            out.append(QuotaViolation(str(v.get("quotaMetric", "")), str(v.get("quotaId", "")), value, dims))
    return out


# -- projects --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Project:
    """A Gemini project as gembatch knows it: a fingerprint of its endpoint and API key."""

    id: str
    label: str


def _project(host: str, key: str) -> Project:
    if host in _LOOPBACK or host == "emulator":  # every local emulator is one rehearsal project
        return Project("emulator", "the local Gemini emulator")
    digest = hashlib.sha256(f"{host}\0{key}".encode()).hexdigest()[:16]
    where = "Gemini API" if host == _REAL_HOST else host
    return Project(f"key-{digest}", f"{where}, key fingerprint {digest[:8]}")


def _env_key() -> str | None:
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        if os.environ.get(var, "").strip():
            return os.environ[var].strip()
    try:
        from dotenv import dotenv_values, find_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return None
    path = find_dotenv(usecwd=True)
    values = dotenv_values(path) if path else {}
    return next((str(values[v]).strip() for v in ("GEMINI_API_KEY", "GOOGLE_API_KEY") if values.get(v)), None)


def project_of(project: Any = "auto") -> Project | None:
    """The project whose limits apply: ``"auto"`` (the one ``gb.connect()`` would use: the API key
    in the environment or ``.env``, else the emulator), a google-genai client, a :class:`Project`,
    a project id, or ``None`` (no learned limits)."""
    if project is None or isinstance(project, Project):
        return project
    if isinstance(project, str):
        if project != "auto":
            return Project(project, project)
        key = _env_key()
        return _project(_REAL_HOST, key) if key else _project("emulator", "")
    api = getattr(project, "_api_client", None)
    if api is None:
        raise InputError(f"project must be 'auto', a project id or a google-genai client, not {project!r}")
    base = getattr(getattr(api, "_http_options", None), "base_url", None) or f"https://{_REAL_HOST}/"
    return _project(urlsplit(str(base)).hostname or _REAL_HOST, str(getattr(api, "api_key", "") or ""))


# -- the file --------------------------------------------------------------------------------
def limits_path() -> Path | None:
    """Where learned and user-set limits live; ``None`` when ``GEMBATCH_LIMITS_FILE=off``."""
    raw = os.environ.get(LIMITS_FILE_VAR, "").strip()
    if raw.lower() == "off":
        return None
    if raw:
        return Path(raw).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "gembatch" / "limits.json"


def _load() -> dict[str, Any]:
    path = limits_path()
    if path is None or not path.exists():
        return {"version": 1, "projects": {}}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:  # a damaged file must never stop a plan
        logger.warning("gembatch: ignoring unreadable limits file %s: %s", path, exc)
        return {"version": 1, "projects": {}}
    return data if isinstance(data, dict) and isinstance(data.get("projects"), dict) else {"projects": {}}


def _save(data: dict[str, Any]) -> None:
    path = limits_path()
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(tmp, path)


def record(
    project: Project, model: str, name: str, value: Any, *, tier: str | None, source: str, by: str
) -> None:
    """Store one limit (``by`` is ``"service"`` or ``"user"``; ``value=None`` forgets it)."""
    data = _load()
    proj = data["projects"].setdefault(project.id, {"label": project.label, "models": {}})
    key = "*" if name in PROJECT_WIDE else model.removeprefix("models/")
    entries = proj["models"].setdefault(key, {}).setdefault(by, {})
    if value is None:
        entries.pop(name, None)
    else:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        entries[name] = {"value": value, "tier": tier, "at": stamp, "source": source}
    _save(data)


def _records(project: Project, model: str) -> dict[str, tuple[dict[str, Any], str]]:
    """name → (record, "user" | "service") for a model, project-wide ones included; user wins."""
    models = _load()["projects"].get(project.id, {}).get("models", {})
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for key in ("*", model):
        for by in ("service", "user"):
            for name, rec in (models.get(key, {}).get(by) or {}).items():
                out[name] = (rec, by)
    return out


# -- learning and setting --------------------------------------------------------------------
def learn_from_error(
    error: Any, *, client: Any = None, model: str | None = None, tier: str | None = None
) -> list[QuotaViolation]:
    """Record every quota value a 429 states, for ``client``'s project; never raises.

    Returns the violations that carried a value (what was learned).
    """
    learned = []
    try:
        project = project_of(client if client is not None else "auto")
        for v in quota_violations(error):
            target = v.model or model or "*"
            if v.value is None or project is None:
                continue
            source = f"429 {v.quota_id or v.metric}"
            record(project, target, v.limit, v.value, tier=v.tier or tier, source=source, by="service")
            learned.append(v)
    except Exception as exc:  # learning is a bonus: a 429 is handled the same with or without it
        logger.warning("gembatch: could not record the limits of a 429: %s", exc)
    return learned


def set_limits(model: str = "*", *, project: Any = "auto", tier: str | None = None, **limits: Any) -> None:
    """Set limits yourself (they win over learned ones and the catalogue); ``None`` removes one.

    Examples
    --------
    >>> set_limits("gemini-3.5-flash", tier="tier1", enqueued_tokens=2_000_000)  # doctest: +SKIP
    >>> set_limits(spend_cap_usd_month=500)  # doctest: +SKIP
    """
    proj = project_of(project)
    if proj is None:
        raise InputError("set_limits needs a project: pass project='auto', a client or a project id")
    bad = set(limits) - SETTABLE
    if bad:
        raise InputError(f"unknown limit(s) {', '.join(sorted(bad))}; use {', '.join(sorted(SETTABLE))}")
    if tier is not None and tier not in TIERS:
        raise InputError(f"unknown tier {tier!r}; use one of {', '.join(TIERS)}")
    for name, value in limits.items():
        if value is not None and (isinstance(value, bool) != (name == "thinking") or value < 0):
            raise InputError(f"{name} must be {'True or False' if name == 'thinking' else 'a number >= 0'}")
        record(proj, model, name, value, tier=tier if name in PER_TIER else None, source="set", by="user")


def known_limits(project: Any = "auto") -> pd.DataFrame:
    """Everything learned or set for ``project``: one row per model and limit."""
    import pandas as pd

    proj = project_of(project)
    models = _load()["projects"].get(proj.id, {}).get("models", {}) if proj else {}
    rows = [
        {"model": m, "limit": name, "value": rec.get("value"), "tier": rec.get("tier"), "set_by": by,
         "at": rec.get("at"), "source": rec.get("source")}
        for m, entries in sorted(models.items())
        for by in ("user", "service")
        for name, rec in sorted((entries.get(by) or {}).items())
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["model", "limit", "value", "tier", "set_by", "at", "source"])


def limit_origins(model: str, tier: str, project: Any = "auto") -> dict[str, str]:
    """Which limits of ``model`` on ``tier`` come from ``project``'s records: name → learned | set."""
    proj = project_of(project)
    if proj is None:
        return {}
    return {
        name: "set" if by == "user" else "learned"
        for name, (rec, by) in _records(proj, model.removeprefix("models/")).items()
        if name in APPLIED and (name not in PER_TIER or rec.get("tier") in (None, tier))
    }


def apply_learned(info: ModelInfo, tier: str, project: Any = "auto") -> tuple[ModelInfo, list[str]]:
    """``info`` with the project's learned and user-set limits in place, and a note for each change."""
    proj = project_of(project)
    if proj is None:
        return info, []
    changes: dict[str, Any] = {}
    notes = []
    assumed = list(info.assumed)
    for name, (rec, by) in sorted(_records(proj, info.id).items()):
        if name not in APPLIED:
            continue
        value = rec["value"]
        how = "set by you" if by == "user" else f"learned from the service ({rec['at'][:10]})"
        if name in PER_TIER:
            if rec.get("tier") not in (None, tier):
                notes.append(f"{name} {_fmt(value)} {how} is for {rec['tier']}, not {tier}: not used")
                continue
            old = getattr(info, name).get(tier)
            changes[name] = {**getattr(info, name), tier: int(value)}
        else:
            old = getattr(info, name)
            changes[name] = value
        assumed = [a for a in assumed if a != name]
        if old != value:
            notes.append(f"{name} {_fmt(value)} {how}; catalogue {_fmt(old)}")
    if changes:
        info = replace(info, **changes, assumed=tuple(assumed))
    return info, notes


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def spend_cap(catalog: Catalog, tier: str, project: Any = "auto") -> tuple[float | None, str]:
    """The monthly spend cap that applies (yours if set, else the catalogue's) and where it comes from."""
    proj = project_of(project)
    mine = _records(proj, "*").get("spend_cap_usd_month") if proj else None
    if mine is not None:
        return float(mine[0]["value"]), "set by you"
    info = catalog.tier(tier)
    if info.spend_cap_usd_month is None:
        return None, "no spend cap known"
    how = "confirmed" if info.spend_cap_confirmed else "reported, unconfirmed"
    return float(info.spend_cap_usd_month), f"{how}, as of {info.as_of}"
