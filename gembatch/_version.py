"""The version of gembatch and gembatch_widgets: the one place it is written (see CONTRIBUTING.md)."""

from __future__ import annotations

__version__ = "0.1.0"
