"""Every relative link in README.md and docs/*.md points at a file that exists (and a heading that does)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from docsupport import ROOT, doc_files, prose

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+)$", prose(path), re.M)}


LINKS = [
    (path, target)
    for path in doc_files()
    for target in _LINK.findall(prose(path))
    if not re.match(r"^[a-z]+:", target)  # http(s), mailto: checked by nobody here
]


@pytest.mark.parametrize(("path", "target"), LINKS, ids=[f"{p.name}->{t}" for p, t in LINKS])
def test_relative_link_resolves(path: Path, target: str) -> None:
    file_part, _, anchor = target.partition("#")
    dest = (path.parent / file_part).resolve() if file_part else path
    assert dest.exists(), f"{path.relative_to(ROOT)}: {target} points at a missing file"
    if anchor and dest.suffix == ".md":
        assert anchor in _anchors(dest), f"{path.relative_to(ROOT)}: no heading #{anchor} in {dest.name}"
