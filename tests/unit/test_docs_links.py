"""The README and docs/ stand on their own: every relative link resolves inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOCUMENTS = sorted(
    [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "examples").rglob("*.md")]
)


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Links of ``path`` that leave the repository or name a file that does not exist."""
    broken: list[str] = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor in the same page
        resolved = (path.parent / target.split("#", 1)[0]).resolve()
        if not resolved.is_relative_to(root):
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
    return broken


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_links_resolve_in_a_plain_clone(path: Path) -> None:
    assert broken_links(path) == []


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_no_reference_to_files_outside_the_clone(path: Path) -> None:
    assert "../shared" not in path.read_text(encoding="utf-8")


def test_a_link_out_of_the_repository_or_to_nothing_is_reported(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "rules.toml").write_text("")
    page = repo / "docs" / "page.md"
    page.write_text(
        "[spec](../../shared/SPEC.md) [gone](nothing-here.md) [ok](rules.toml#x) "
        "[web](https://example.org) [anchor](#top)",
        encoding="utf-8",
    )
    assert broken_links(page, repo) == [
        "../../shared/SPEC.md: outside the repository",
        "nothing-here.md: no such file",
    ]
