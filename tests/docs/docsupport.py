"""Read README.md and docs/*.md: fenced code blocks, ``gembatch`` command lines, Mermaid state diagrams."""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SKIP_MARK = "<!-- no-test -->"
RUN_LANGS = frozenset({"python", "bash"})
SHELL_LANGS = frozenset({"bash", "sh", "shell", "console"})
_FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
_INLINE = re.compile(r"(?<!`)`(gembatch [^`\n]+)`(?!`)")
_SHELL_OPS = frozenset({"&&", "||", ";", "|", "&", ">", ">>", "<", ">&", "&>", "2>", "(", ")"})


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it starts (1-based line of its first code line) and what it holds."""

    path: Path
    line: int
    lang: str
    code: str
    skip: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def doc_files() -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of ``path``; a ``<!-- no-test -->`` line just before a block skips it."""
    lines = path.read_text("utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, lang = match.group(1), match.group(2).lower()
        prev = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        start = i + 1
        i += 1
        while i < len(lines) and not lines[i].startswith(fence):
            i += 1
        out.append(Block(path, start + 1, lang, "\n".join(lines[start:i]) + "\n", prev == SKIP_MARK))
        i += 1
    return out


def prose(path: Path) -> str:
    """The text of ``path`` outside fenced blocks."""
    keep, inside, fence = [], False, ""
    for line in path.read_text("utf-8").splitlines():
        match = _FENCE.match(line)
        if match and (not inside or line.startswith(fence)):
            inside, fence = (not inside), match.group(1)
            continue
        if not inside:
            keep.append(line)
    return "\n".join(keep)


def _logical_lines(code: str) -> list[str]:
    """Shell lines with continuations (a trailing backslash, an open quote) joined, ``$ `` prompts removed."""
    out: list[str] = []
    buf = ""
    for raw in code.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        candidate = (buf + line).strip().removeprefix("$ ")
        try:
            shlex.split(candidate, comments=True)
        except ValueError:  # a quoted string goes on over the next line
            buf += line + "\n"
            continue
        out.append(candidate)
        buf = ""
    return [line for line in out if line and not line.startswith("#")]


def _commands(line: str) -> list[list[str]]:
    """Split a shell line at operators and redirections; keep each simple command's words."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words: list[str] = []
    cmds: list[list[str]] = []
    skip_next = False
    for token in lexer:
        if skip_next:
            skip_next = False
            continue
        if token in _SHELL_OPS or set(token) <= set("&|;<>()"):
            if token.startswith((">", "<")) or token == "&>":
                skip_next = True  # the file (or descriptor) after a redirection
                if words and words[-1].isdigit():
                    words.pop()  # the "2" of "2>" is not an argument
            cmds.append(words)
            words = []
            continue
        words.append(token)
    cmds.append(words)
    return [c for c in cmds if c]


def gembatch_commands(text: str) -> list[list[str]]:
    """argv (after ``gembatch``) of every ``gembatch ...`` command in shell text."""
    found: list[list[str]] = []
    for line in _logical_lines(text):
        for cmd in _commands(line):
            words = list(cmd)
            while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
                words = words[1:]  # VAR=value prefixes
            # usage notation: "[--port 8000]" is an optional part, still checked
            words = [w.lstrip("[").rstrip("]") for w in words if w.strip("[]")]
            if words and Path(words[0]).name == "gembatch":
                found.append(words[1:])
            elif words[:3] == ["python", "-m", "gembatch"]:
                found.append(words[3:])
    return found


def documented_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every gembatch command in shell blocks (skipped ones too) and inline code."""
    out: list[tuple[str, list[str]]] = []
    for path in doc_files():
        for block in blocks(path):
            if block.lang in SHELL_LANGS:
                out += [(block.where, argv) for argv in gembatch_commands(block.code)]
        for match in _INLINE.finditer(prose(path)):
            out += [
                (f"{path.relative_to(ROOT)} (inline)", argv) for argv in gembatch_commands(match.group(1))
            ]
    return out


def make_targets_shown() -> list[tuple[str, str]]:
    """(where, target) of every ``make X`` in shell blocks."""
    out = []
    for path in doc_files():
        for block in blocks(path):
            if block.lang in SHELL_LANGS:
                for line in _logical_lines(block.code):
                    for words in _commands(line):
                        if words and words[0] == "make":
                            out += [(block.where, t) for t in words[1:] if not t.startswith("-")]
    return out


def mermaid_state_diagrams(path: Path) -> dict[str, tuple[set[str], set[tuple[str, str]]]]:
    """``%% machine: NAME`` → (states, transitions) of each ``stateDiagram-v2`` block in ``path``."""
    out: dict[str, tuple[set[str], set[tuple[str, str]]]] = {}
    for block in blocks(path):
        if block.lang != "mermaid" or "stateDiagram" not in block.code:
            continue
        name = re.search(r"%%\s*machine:\s*(\S+)", block.code)
        if not name:
            continue
        states: set[str] = set()
        edges: set[tuple[str, str]] = set()
        for raw in block.code.splitlines():
            line = raw.strip()
            if not line or line.startswith(("%%", "stateDiagram", "note", "end note", "direction")):
                continue
            edge = re.match(r"^(\[\*\]|[\w-]+)\s*-->\s*(\[\*\]|[\w-]+)", line)
            if edge:
                a, b = edge.groups()
                states |= {s for s in (a, b) if s != "[*]"}
                if "[*]" not in (a, b):
                    edges.add((a, b))
                continue
            alias = re.match(r'^state\s+"[^"]*"\s+as\s+([\w-]+)', line) or re.match(
                r"^state\s+([\w-]+)", line
            )
            if alias:
                states.add(alias.group(1))
        out[name.group(1)] = (states, edges)
    return out


def reader_env(home: Path) -> dict[str, str]:
    """A newcomer's shell: the venv on PATH, no API key, no GEMBATCH_* setting, a fresh HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL")
        and not k.startswith(("PYTEST_", "COV_", "GEMBATCH_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    env["GEMBATCH_EMULATOR_STATE_DIR"] = str(home / "emulator")
    env["MPLBACKEND"] = "Agg"
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env
