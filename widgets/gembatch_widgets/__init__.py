"""gembatch_widgets: Jupyter panels to submit and monitor gembatch runs."""

from __future__ import annotations

__version__ = "0.1.0"
