"""Workflow: one typed :class:`RunRequest` (every option of a run) that every face builds and calls."""

from __future__ import annotations

from gembatch.workflow.request import DEFAULT_MODEL, MODES, RunRequest, load_prompt, load_schema

__all__ = ["DEFAULT_MODEL", "MODES", "RunRequest", "load_prompt", "load_schema"]
