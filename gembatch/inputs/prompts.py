"""Prompt templates: ``{column}`` placeholders parsed and checked, never formatted blindly."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from gembatch.errors import InputError

__all__ = ["PromptTemplate", "as_text"]

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
# What str.format users write and this template language does not take: {}, {0}, { text },
# {text!r}, {text:>20}. A JSON example ({"a": 1}) starts with a quote and is left alone.
_FORMAT_FIELD = re.compile(r"\{(\s*)(\d*|[A-Za-z_][A-Za-z0-9_]*)(\s*)([!:][^{}\"']*)?\}")


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt with ``{column}`` placeholders; ``{{`` and ``}}`` are literal braces.

    Any other brace (a JSON example in the prompt, say) is left as it is, unlike ``str.format``.

    >>> PromptTemplate("Summarise {title}: {text}").render({"title": "T", "text": "body"})
    'Summarise T: body'
    """

    template: str

    @property
    def fields(self) -> tuple[str, ...]:
        """Column names used, in order of first use."""
        names = [m.group(1) for m in _PLACEHOLDER.finditer(self.template) if m.group(1)]
        return tuple(dict.fromkeys(names))

    def counts(self) -> dict[str, int]:
        """How often each column is used (its text is paid for every time)."""
        out: dict[str, int] = {}
        for m in _PLACEHOLDER.finditer(self.template):
            if m.group(1):
                out[m.group(1)] = out.get(m.group(1), 0) + 1
        return out

    @property
    def static_text(self) -> str:
        """The template with every placeholder removed (what every request carries)."""
        return _PLACEHOLDER.sub(lambda m: "" if m.group(1) else m.group(0)[0], self.template)

    def pieces(self) -> tuple[tuple[str, str], ...]:
        """The template as ``("text", literal)`` and ``("field", column)`` pieces, in order:
        :meth:`render` is their concatenation (``{{``/``}}`` already turned into single braces).

        >>> PromptTemplate("Sum {{x}}: {text}").pieces()
        (('text', 'Sum {x}: '), ('field', 'text'))
        """
        out: list[tuple[str, str]] = []
        pos, literal = 0, ""
        for m in _PLACEHOLDER.finditer(self.template):
            literal += self.template[pos : m.start()]
            pos = m.end()
            if m.group(1):
                if literal:
                    out.append(("text", literal))
                out.append(("field", m.group(1)))
                literal = ""
            else:
                literal += m.group(0)[0]
        literal += self.template[pos:]
        if literal:
            out.append(("text", literal))
        return tuple(out)

    def render(self, row: Mapping[str, Any]) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if not name:
                return m.group(0)[0]
            try:
                return as_text(row[name])
            except KeyError:
                raise InputError(
                    f"prompt placeholder {{{name}}} has no matching article column; "
                    f"available: {', '.join(sorted(map(str, row)))}",
                    field=name,
                ) from None

        return _PLACEHOLDER.sub(sub, self.template)

    def check(self) -> None:
        """Refuse a template that cannot be what the user meant, naming the problem.

        A template must be non-empty and use at least one ``{column}`` (otherwise every article
        would become the same request and one answer would be copied to all); braces must balance
        once ``{{``/``}}`` and placeholders are set aside; ``str.format`` fields such as ``{}``,
        ``{0}``, ``{ text }`` or ``{text:>20}`` are refused with the spelling to use instead.
        """
        text = self.template
        if not isinstance(text, str) or not text.strip():
            raise InputError(
                "prompt must be a non-empty template, e.g. 'Summarise:\\n{text}'", field="prompt"
            )
        for m in _FORMAT_FIELD.finditer(text):
            lead, name, trail, spec = m.groups()
            if not (lead or trail or spec or not name or name.isdigit()):
                continue  # a well-formed {column}
            if _inside_double_braces(text, m.start()):
                continue
            hint = f"{{{name}}}" if name and not name.isdigit() else "{text}"
            raise InputError(
                f"prompt placeholder {m.group(0)!r} at character {m.start() + 1} is not a column name; "
                f"write {hint} (no spaces, no format spec), or {{{{ and }}}} for literal braces",
                field="prompt",
            )
        depth, opened = 0, -1
        for m in re.finditer(r"\{\{|\}\}|\{[A-Za-z_][A-Za-z0-9_]*\}|[{}]", text):
            token = m.group(0)
            if token in ("{", "}"):
                if token == "{":
                    depth, opened = depth + 1, (m.start() if depth == 0 else opened)
                elif depth == 0:
                    raise InputError(
                        f"prompt has an unmatched '}}' at character {m.start() + 1} "
                        f"({_around(text, m.start())}); write }}}} for a literal brace",
                        field="prompt",
                    )
                else:
                    depth -= 1
        if depth:
            raise InputError(
                f"prompt has an unclosed '{{' at character {opened + 1} ({_around(text, opened)}); "
                "close the placeholder, e.g. {text}, or write {{ for a literal brace",
                field="prompt",
            )
        if not self.fields:
            raise InputError(
                "prompt uses no article column: every article would be sent the same request and get "
                "the same answer; put {text} where the article goes, e.g. 'Summarise:\\n{text}'",
                field="prompt",
            )

    def check_columns(self, columns: Iterable[str]) -> None:
        """Raise :class:`InputError` when a placeholder names no column."""
        have = set(columns)
        missing = [f for f in self.fields if f not in have]
        if missing:
            raise InputError(
                f"prompt placeholder {{{missing[0]}}} has no matching article column; available: "
                f"{', '.join(sorted(have))}. Write {{{{ and }}}} for literal braces",
                field=missing[0],
            )


def _inside_double_braces(text: str, pos: int) -> bool:
    """True when ``pos`` is part of a ``{{``/``}}`` literal (so ``{{0}}`` is literal text)."""
    return text.startswith("{{", max(pos - 1, 0)) and pos > 0 and text[pos - 1] == "{"


def _around(text: str, pos: int, width: int = 12) -> str:
    return repr(text[max(0, pos - width) : pos + width])


def as_text(value: Any) -> str:
    """How a column value is written into a prompt: missing values become empty text, and whole
    floats (integer columns with gaps become floats) lose their ``.0``."""
    if isinstance(value, str):
        return value
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    return str(value)
