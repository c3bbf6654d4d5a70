"""gembatch: run large text workloads through the Gemini Batch API, from Jupyter or a terminal.

>>> import gembatch as gb
>>> gb.default_catalog().get("gemini-2.5-flash-lite").batch_input_price
0.05
"""

from __future__ import annotations

from gembatch._version import __version__
from gembatch.errors import (
    BackendError,
    BudgetExceeded,
    CatalogError,
    GembatchError,
    GembatchWarning,
    InputError,
    LedgerDamaged,
    PriceChangeWarning,
    QuotaExceeded,
    RetiredModel,
    RunMismatch,
    SpendCapWarning,
    UnknownModel,
)
from gembatch.planning.catalog import Catalog, ModelInfo, default_catalog, load_catalog

# --- foundation (articles, tokens, cost, plan, requests) ---
# isort: split
from gembatch.inputs.articles import read_articles
from gembatch.inputs.datasets import synthetic_articles
from gembatch.inputs.request_lines import RequestSpec, iter_request_lines, write_jsonl
from gembatch.inputs.tokens import Calibration, TokenEstimator, calibrate
from gembatch.planning.cost import Estimate, estimate
from gembatch.planning.learned_limits import set_limits
from gembatch.planning.lineup import models
from gembatch.planning.plan import Plan, plan

# --- backend and emulator ---
# isort: split
from gembatch import emulator
from gembatch.transport.connect import connect, describe, is_emulator

# --- runs ---
# isort: split
from gembatch.cache import ResponseCache
from gembatch.runs.run import Run

# --- realtime ---
# isort: split
from gembatch.planning.pilot import Pilot, pilot
from gembatch.planning.ratelimit import RateLimits, realtime_duration
from gembatch.runs.realtime_send import RealtimeOptions

# --- one request for every face ---
# isort: split
from gembatch.workflow.request import RunRequest

__all__ = [
    "BackendError",
    "BudgetExceeded",
    "Calibration",
    "Catalog",
    "CatalogError",
    "Estimate",
    "GembatchError",
    "GembatchWarning",
    "InputError",
    "LedgerDamaged",
    "ModelInfo",
    "Pilot",
    "Plan",
    "PriceChangeWarning",
    "QuotaExceeded",
    "RateLimits",
    "RealtimeOptions",
    "RequestSpec",
    "ResponseCache",
    "RetiredModel",
    "Run",
    "RunMismatch",
    "RunRequest",
    "SpendCapWarning",
    "TokenEstimator",
    "UnknownModel",
    "__version__",
    "calibrate",
    "connect",
    "default_catalog",
    "describe",
    "emulator",
    "estimate",
    "is_emulator",
    "iter_request_lines",
    "load_catalog",
    "models",
    "pilot",
    "plan",
    "read_articles",
    "realtime_duration",
    "set_limits",
    "synthetic_articles",
    "write_jsonl",
]
