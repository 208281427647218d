"""tools/render_teams_card.py: the sample payload in docs is what the code produces, and fixture
files flow through the real source and detection into the card. (The PNG itself needs Chromium and
is made by hand; see docs/alerts.md.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.builders import behavior, identity, signin

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
