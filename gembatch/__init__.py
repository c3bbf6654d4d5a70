"""gembatch: run large text workloads through the Gemini Batch API, from Jupyter or a terminal.

>>> import gembatch as gb
>>> gb.default_catalog().get("gemini-2.5-flash-lite").batch_input_price
0.05
"""

from __future__ import annotations

from gembatch.catalog import Catalog, ModelInfo, default_catalog, load_catalog
from gembatch.errors import (
    BackendError,
    BudgetExceeded,
    CatalogError,
    GembatchError,
    GembatchWarning,
    InputError,
    PriceChangeWarning,
    QuotaExceeded,
    RetiredModel,
    RunMismatch,
    SpendCapWarning,
    UnknownModel,
)

# --- foundation (articles, tokens, cost, plan, requests) ---
# isort: split
from gembatch.articles import read_articles
from gembatch.cost import Estimate, estimate
from gembatch.datasets import synthetic_articles
from gembatch.learned_limits import set_limits
from gembatch.lineup import models
from gembatch.plan import Plan, plan
from gembatch.requests import RequestSpec, iter_request_lines, write_jsonl
from gembatch.tokens import Calibration, TokenEstimator, calibrate

# --- backend and emulator ---
# isort: split
from gembatch import emulator
from gembatch.backend import connect, describe, is_emulator

# --- runs ---
# isort: split
from gembatch.run import Run

# --- realtime ---
# isort: split
from gembatch.pilot import Pilot, pilot
from gembatch.ratelimit import RateLimits, realtime_duration
from gembatch.realtime import RealtimeOptions

__version__ = "0.1.0"

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
    "ModelInfo",
    "Pilot",
    "Plan",
    "PriceChangeWarning",
    "QuotaExceeded",
    "RateLimits",
    "RealtimeOptions",
    "RequestSpec",
    "RetiredModel",
    "Run",
    "RunMismatch",
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
