"""The README keeps its promises: two commands, every setting documented (docs/settings.md), CI runs the tests."""

from __future__ import annotations

import re
from pathlib import Path

from shared.settings import setting_names

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_quick_start_is_exactly_two_commands() -> None:
    [block] = re.findall(r"```sh\n(.*?)```", _section("Quick start"), re.S)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_every_setting_is_in_the_settings_table_and_nothing_else() -> None:
    table = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([A-Za-z_]+)` \|", table, re.M)
    assert sorted(documented) == sorted(setting_names())


def test_the_readme_sends_to_the_settings_page() -> None:
    assert "(docs/settings.md)" in _section("Settings")
