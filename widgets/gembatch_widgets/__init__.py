"""gembatch_widgets: Jupyter panels to submit and monitor gembatch runs.

>>> from gembatch_widgets import MonitorPanel, SubmitPanel  # doctest: +SKIP
>>> SubmitPanel(articles, run_dir="runs/demo")               # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from gembatch_widgets._charts import render_run_chart
from gembatch_widgets._display import DISPLAY_ENV, resolve_display
from gembatch_widgets._monitor import MonitorPanel
from gembatch_widgets._submit import SubmitPanel

try:  # the installed distribution's version, which is gembatch's (gembatch/_version.py)
    __version__ = version("gembatch-runner-widgets")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "DISPLAY_ENV",
    "MonitorPanel",
    "SubmitPanel",
    "__version__",
    "render_run_chart",
    "resolve_display",
]
