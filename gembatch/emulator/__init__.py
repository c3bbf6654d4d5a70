"""A local Gemini API emulator the unmodified google-genai SDK talks to (batches, files, models)."""

from __future__ import annotations

from gembatch.emulator._faults import PROFILES, Profile, load_profile
from gembatch.emulator._server import Emulator, running, serve
from gembatch.emulator._tokenizer import count_tokens

__all__ = ["PROFILES", "Emulator", "Profile", "count_tokens", "load_profile", "running", "serve"]
