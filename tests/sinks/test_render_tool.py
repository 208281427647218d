"""tools/render_teams_card.py: the sample payload in docs is what the code produces, and fixture
files flow through the real source and detection into the card; the PNG goes to an untracked path
unless the tracked one is asked for, which needs the pinned font. (The PNG itself needs Chromium and
is made by hand; see docs/alerts.md.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.cold_start import FuncIgnore
from tests.builders import behavior, identity, signin
from tools import render_teams_card as tool

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "render_teams_card.py"


def run_tool(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, str(TOOL), "--no-png", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    lines = [json.dumps({k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in r.items()}) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_docs_sample_payload_is_current(tmp_path: Path) -> None:
    run_tool("--payload", str(tmp_path / "payload.json"))

    assert (tmp_path / "payload.json").read_text(encoding="utf-8") == (
        REPO / "docs" / "sample-webhook-payload.json"
    ).read_text(encoding="utf-8"), (
        "regenerate: python tools/render_teams_card.py --payload docs/sample-webhook-payload.json"
    )


def test_fixture_rows_go_through_source_and_detection(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    write_jsonl(
        fixtures / "SigninLogs.jsonl",
        [signin(minute=10), signin(minute=20), signin("ann@contoso.com", ip="198.51.100.4", minute=33)],
    )
    write_jsonl(fixtures / "IdentityInfo.jsonl", [identity()])
    write_jsonl(fixtures / "BehaviorAnalytics.jsonl", [behavior(), behavior("ann", ip="198.51.100.4", score=8)])

    run_tool("--fixtures", str(fixtures), "--payload", str(tmp_path / "p.json"), "--card", str(tmp_path / "c.json"))

    payload = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert [(r["UserPrincipalName"], r["UEBARiskScore"]) for r in payload["rows"]] == [
        ("ann@contoso.com", 8),
        ("john.doe@contoso.com", 5),
    ]
    assert payload["window"] == {"start": "2026-11-28T09:00:00Z", "end": "2026-11-28T10:00:00Z"}
    card = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))["attachments"][0]["content"]
    assert "ann@contoso.com" in json.dumps(card)


def test_the_png_goes_to_an_untracked_path_by_default() -> None:
    output = tool.build_parser().parse_args([]).output
    assert output == tool.DEFAULT_OUTPUT != tool.DOCS_IMAGE
    relative = output.relative_to(REPO).as_posix()
    ignored = subprocess.run(["git", "check-ignore", "-q", relative], cwd=REPO, check=False)
    assert ignored.returncode == 0, f"{relative} is not git-ignored"
    assert not FuncIgnore.read(REPO / ".funcignore").accepts(relative), f"{relative} would be deployed"


def test_the_page_is_set_in_the_pinned_font() -> None:
    page = tool.TEMPLATE.read_text(encoding="utf-8")
    assert tool.FONT_STACK.startswith(f'"{tool.FONT_FAMILY}",')
    assert page.count("__FONT_STACK__") == 3  # the page, the buttons, the card's host config
    for family in ("Segoe UI", tool.FONT_FAMILY, "Arial"):  # no family of its own
        assert family not in page
    tool.check_font_installed({"Regular", "Bold", "Italic", "Bold Italic"})  # passes


def fake_program(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    "fc_list_output",
    [None, "", ":style=Regular\n:style=Italic"],
    ids=["no fc-list", "font missing", "no bold"],
)
def test_the_tracked_png_is_not_written_without_the_pinned_font(tmp_path: Path, fc_list_output: str | None) -> None:
    programs = tmp_path / "bin"
    programs.mkdir()
    if fc_list_output is not None:
        fake_program(programs, "fc-list", f"printf '{fc_list_output}\\n'")
    browser = fake_program(programs, "chromium", f": > {tmp_path / 'browser-ran'}; exit 1")
    before = tool.DOCS_IMAGE.read_bytes()

    done = subprocess.run(
        [sys.executable, str(TOOL), "--output", "docs/teams-card.png", "--payload", str(tmp_path / "p.json")],
        cwd=REPO,
        env={**os.environ, "PATH": str(programs), "CHROMIUM": str(browser)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    [message] = done.stderr.splitlines()
    assert "apt-get install -y fonts-liberation" in message
    assert not (tmp_path / "browser-ran").exists()
    assert not (tmp_path / "p.json").exists()  # checked before anything is written
    assert tool.DOCS_IMAGE.read_bytes() == before


def test_the_preview_card_has_the_query_button_and_the_user_buttons(tmp_path: Path) -> None:
    run_tool("--card", str(tmp_path / "c.json"))

    card = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))["attachments"][0]["content"]
    assert card["actions"][0]["title"] == "Open the query in Log Analytics"
    assert tool.SAMPLE_WORKSPACE.split("/")[-1] in card["actions"][0]["url"]
    assert '"Sign-in logs (Entra)"' in json.dumps(card)
