"""The documentation holds together: citations of docs/rule-semantics.md name its headings, the old
spec file is no longer cited, the README links every docs page, and every relative link resolves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SEMANTICS = DOCS / "rule-semantics.md"

# `rule-semantics.md, "Output"`, `rule-semantics.md's "consequences that surprise people"` (the title
# may run over a line break), `rule-semantics.md §"Input columns and types"`, and `§Output` for a
# one-word title. Titles compare ignoring case: prose cites them in lower case.
CITATION = re.compile(
    r"""rule-semantics\.md(?:'s)?,?\s*(?:"(?P<quoted>[^"]{1,120})"|§\s*(?:"(?P<sq>[^"]{1,120})"|(?P<bare>[^\s,;:.)"`]+)))"""
)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _repo_files(*suffixes: str) -> list[Path]:
    """Tracked and untracked-but-not-ignored files (no virtualenv, no node_modules), this one excepted."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
        text=True,
    ).stdout.split("\0")
    paths = {REPO / name for name in listed if name.endswith(suffixes)}
    return sorted(path for path in paths if path.is_file() and path != Path(__file__).resolve())


def _headings(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [match.strip() for match in re.findall(r"^#{1,6} (.+)$", text, re.M)]


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", lambda m: "_" if m.group() == "_" else "", heading.lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_every_citation_of_rule_semantics_names_one_of_its_headings() -> None:
    headings = {heading.casefold() for heading in _headings(SEMANTICS)}
    bad = []
    for path in _repo_files(".py", ".sql", ".md"):
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            title = " ".join(next(group for group in match.groups() if group).split())
            if title.casefold() not in headings:
                bad.append(f"{path.relative_to(REPO)}: {match.group()}")
    assert not bad, "citations of docs/rule-semantics.md naming no heading of it:\n" + "\n".join(bad)


def test_the_sections_the_code_cites_exist() -> None:
    # The titles the code cited in the spec file this page replaces.
    headings = _headings(SEMANTICS)
    for title in ("Input columns and types", "Output", "Consequences that surprise people", "OPEN points"):
        assert title in headings, title


def test_nothing_outside_docs_cites_the_old_spec_file() -> None:
    # The spec (kql-semantics.md) is not in this repository; docs/rule-semantics.md replaces it.
    citing = [
        f"{path.relative_to(REPO)}:{number}"
        for path in _repo_files(".py", ".sql", ".md")
        if path.relative_to(REPO).parts[0] != "docs"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "kql-semantics.md" in line
    ]
    assert not citing, "cite docs/rule-semantics.md instead:\n" + "\n".join(citing)


def test_the_readme_links_every_docs_page() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    targets = {m.group(1) or m.group(2) for m in LINK.finditer(readme)}
    pages = {f"docs/{path.name}" for path in DOCS.glob("*.md")}
    assert pages <= {target.split("#")[0] for target in targets}, pages - targets


def test_relative_links_and_their_anchors_resolve() -> None:
    broken = []
    for page in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for match in LINK.finditer(text):
            target = match.group(1) or match.group(2)
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto: ...
            path_part, _, anchor = target.partition("#")
            destination = (page.parent / path_part).resolve() if path_part else page
            if not destination.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif (
                anchor
                and destination.suffix == ".md"
                and anchor not in {_anchor(heading) for heading in _headings(destination)}
            ):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_readme_stays_a_front_page() -> None:
    # The manual is in docs/; the README says what this is, how to start, and links.
    assert (REPO / "README.md").stat().st_size < 10_000
