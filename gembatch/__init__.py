"""gembatch: run large text workloads through the Gemini Batch API, from Jupyter or a terminal.

>>> import gembatch as gb
>>> gb.default_catalog().get("gemini-2.5-flash-lite").batch_input_price
0.05
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from gembatch import emulator
    from gembatch.cache import ResponseCache
    from gembatch.inputs.articles import read_articles
    from gembatch.inputs.bigquery import read_bigquery
    from gembatch.inputs.datasets import synthetic_articles
    from gembatch.inputs.request_lines import RequestSpec, iter_request_lines, write_jsonl
    from gembatch.inputs.stream import ArticleStream
    from gembatch.inputs.tokens import Calibration, TokenEstimator, calibrate
    from gembatch.planning.catalog import Catalog, ModelInfo, default_catalog, load_catalog
    from gembatch.planning.cost import Estimate, estimate
    from gembatch.planning.learned_limits import set_limits
    from gembatch.planning.lineup import models
    from gembatch.planning.pilot import Pilot, pilot
    from gembatch.planning.plan import Plan, plan
    from gembatch.planning.ratelimit import RateLimits, realtime_duration
    from gembatch.planning.stream_plan import StreamPlan, plan_stream
    from gembatch.runs.realtime_send import RealtimeOptions
    from gembatch.runs.run import Run
    from gembatch.transport.connect import connect, describe, is_emulator
    from gembatch.workflow.request import RunRequest

# Everything else loads on first use (``gb.Run``, ``from gembatch import plan``): ``import gembatch``
# and ``gembatch --help`` stay cheap, and google-genai, pandas and pyarrow load only when needed.
_LAZY = {
    # foundation (articles, tokens, cost, plan, requests)
    "Catalog": "gembatch.planning.catalog",
    "ModelInfo": "gembatch.planning.catalog",
    "default_catalog": "gembatch.planning.catalog",
    "load_catalog": "gembatch.planning.catalog",
    "read_articles": "gembatch.inputs.articles",
    "read_bigquery": "gembatch.inputs.bigquery",
    "synthetic_articles": "gembatch.inputs.datasets",
    "ArticleStream": "gembatch.inputs.stream",
    "RequestSpec": "gembatch.inputs.request_lines",
    "iter_request_lines": "gembatch.inputs.request_lines",
    "write_jsonl": "gembatch.inputs.request_lines",
    "Calibration": "gembatch.inputs.tokens",
    "TokenEstimator": "gembatch.inputs.tokens",
    "calibrate": "gembatch.inputs.tokens",
    "Estimate": "gembatch.planning.cost",
    "estimate": "gembatch.planning.cost",
    "set_limits": "gembatch.planning.learned_limits",
    "models": "gembatch.planning.lineup",
    "Plan": "gembatch.planning.plan",
    "plan": "gembatch.planning.plan",
    "StreamPlan": "gembatch.planning.stream_plan",
    "plan_stream": "gembatch.planning.stream_plan",
    # backend and emulator
    "emulator": "gembatch.emulator",
    "connect": "gembatch.transport.connect",
    "describe": "gembatch.transport.connect",
    "is_emulator": "gembatch.transport.connect",
    # runs and real time
    "Run": "gembatch.runs.run",
    "ResponseCache": "gembatch.cache",
    "Pilot": "gembatch.planning.pilot",
    "pilot": "gembatch.planning.pilot",
    "RateLimits": "gembatch.planning.ratelimit",
    "realtime_duration": "gembatch.planning.ratelimit",
    "RealtimeOptions": "gembatch.runs.realtime_send",
    # one request for every face
    "RunRequest": "gembatch.workflow.request",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gembatch' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    value = loaded if name == "emulator" else getattr(loaded, name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ArticleStream",
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
    "StreamPlan",
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
    "plan_stream",
    "read_articles",
    "read_bigquery",
    "realtime_duration",
    "set_limits",
    "synthetic_articles",
    "write_jsonl",
]
