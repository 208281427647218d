"""Render the Teams card of a sample alert to a PNG, as a person would see it, and write the sample
webhook payload.

    python tools/render_teams_card.py                    # docs/teams-card.png from built-in rows
    python tools/render_teams_card.py --fixtures sample_data --payload docs/sample-webhook-payload.json

The card is rendered by the official ``adaptivecards`` JavaScript library (node_modules, ``npm ci``)
in headless Chromium (Debian: ``apt-get install -y chromium``; or set CHROMIUM). With ``--fixtures``
the rows come from fixture files through the real source and detection; otherwise from a few
realistic rows built here. Times are fixed, so the output is reproducible.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from shared.alerts import Alert, build_alerts  # noqa: E402
from shared.models import Row, Window  # noqa: E402
from shared.sinks.teams_card import message_body, teams_message  # noqa: E402

TEMPLATE = Path(__file__).resolve().parent / "teams_card_preview.html"
LIBRARY = REPO / "node_modules" / "adaptivecards"
WIDTH = 760
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
)

SAMPLE_WINDOW = Window(datetime(2026, 11, 28, 9, 0, tzinfo=UTC), datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
TENANT = "8f2c6a4e-1b3d-4e5f-9a7b-0c1d2e3f4a5b"
USER_IDS = {
    "megan.bowen@contoso.com": "4b0e6c2d-7f1a-4c3e-9d5b-2a8f6e1c3b7d",
    "alex.wilber@contoso.com": "9c3d1e2f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "diego.siciliani@contoso.com": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
}
Identity = dict[str, list[str]]  # IdentityInfo's sets for one user: tags, groups, roles


def sample_rows() -> list[Row]:
    """Four result rows as the rule returns them: an admin denying repeated prompts from two IPs
    (MFA fatigue), a user who reported fraud, and a user unknown to IdentityInfo."""

    def row(upn: str, ip: str, times: tuple[str, str], score: int, identity: Identity | None) -> Row:
        first, last = times
        user_id = USER_IDS[upn]
        name, _, suffix = upn.partition("@")
        day = SAMPLE_WINDOW.start.date().isoformat()
        return {
            "UserPrincipalName": upn,
            "UserId": user_id,
            "AADTenantId": TENANT,
            "FailedIPAddress": ip,
            "StartTime": datetime.fromisoformat(f"{day}T{first}+00:00"),
            "EndTIme": datetime.fromisoformat(f"{day}T{last}+00:00"),
            "Name": name,
            "UPNSuffix": suffix,
            "AccountUPN": upn if identity else "",
            "Tags": identity["tags"] if identity else None,
            "GroupMembership": identity["groups"] if identity else None,
            "AssignedRoles": identity["roles"] if identity else None,
            "UserType": ["Member"] if identity else None,
            "UserAccountControl": ["Member"] if identity else None,
            "MaxInvestigationScore": score,
            "UEBARiskScore": score,
        }

    megan = {
        "tags": ["VIP"],
        "groups": ["Finance", "All Company", "VPN Users", "Payroll Approvers"],
        "roles": ["Global Administrator", "Exchange Administrator"],
    }
    alex = {"tags": [], "groups": ["Sales", "All Company"], "roles": []}
    return [
        row("megan.bowen@contoso.com", "198.51.100.23", ("09:12:04", "09:31:47"), 9, megan),
        row("megan.bowen@contoso.com", "192.0.2.80", ("09:40:10", "09:41:02"), 6, megan),
        row("alex.wilber@contoso.com", "203.0.113.45", ("09:05:33", "09:05:33"), 7, alex),
        row("diego.siciliani@contoso.com", "2001:db8:4::17", ("09:48:19", "09:52:40"), 5, None),
    ]


def fixture_rows(directory: Path) -> list[Row]:
    """Rows from fixture files, through the real fixture source and detection."""
    from shared.detection import detect  # noqa: PLC0415 (only this mode needs them)
    from shared.models import ReadRequest  # noqa: PLC0415
    from shared.sources.fixtures import FixtureSource  # noqa: PLC0415

    tables = FixtureSource(directory).read(ReadRequest.same(None))
    return detect(tables.signins, tables.identities, tables.behaviors)


def covering_window(rows: list[Row]) -> Window:
    """The whole hours holding every row's first and last rejection."""
    start = min(row["StartTime"] for row in rows).replace(minute=0, second=0, microsecond=0)
    end = max(row["EndTIme"] for row in rows).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return Window(start, end)


def sample_alert(fixtures: Path | None) -> Alert:
    if fixtures is None:
        rows, window = sample_rows(), SAMPLE_WINDOW
    else:
        rows = fixture_rows(fixtures)
        if not rows:
            raise SystemExit(f"{fixtures}: the rule finds no rows in these fixtures; nothing to render")
        window = covering_window(rows)
    (alert,) = build_alerts(rows, window=window, detected_at=window.end + timedelta(minutes=5, seconds=12))
    return alert


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit("chromium not found: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)")
    return found


def render_png(message: dict[str, object], output: Path, *, scale: float) -> None:
    script = LIBRARY / "dist" / "adaptivecards.min.js"
    if not script.is_file():
        raise SystemExit(f"{script} missing: run `npm ci` in {REPO}")
    version = json.loads((LIBRARY / "package.json").read_text(encoding="utf-8"))["version"]
    # "</" would end the inline <script>; JSON allows writing it as "<\/".
    inline = message_body(message).decode("utf-8").replace("</", "<\\/")
    html = (
        TEMPLATE.read_text(encoding="utf-8")
        .replace("__ADAPTIVECARDS_JS__", script.as_uri())
        .replace("__LIBRARY__", version)
        .replace("__MESSAGE_JSON__", inline)
    )
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="teams-card-") as work:
        page = Path(work) / "preview.html"
        page.write_text(html, encoding="utf-8")
        profile = ["--user-data-dir=" + str(Path(work) / "profile")]
        # First pass: let the page lay the card out and report its height.
        dom = _run([browser, *CHROMIUM_FLAGS, *profile, f"--window-size={WIDTH},2000", "--dump-dom", page.as_uri()])
        found = re.search(r'<pre id="height" hidden="">(\d+)</pre>', dom)
        if not found:
            raise SystemExit("the preview page did not render the card (no height reported)")
        height = int(found.group(1))
        output.parent.mkdir(parents=True, exist_ok=True)
        _run(
            [
                browser,
                *CHROMIUM_FLAGS,
                *profile,
                f"--force-device-scale-factor={scale}",
                f"--window-size={WIDTH},{height}",
                f"--screenshot={output.resolve()}",
                page.as_uri(),
            ]
        )
    if not output.is_file():
        raise SystemExit(f"chromium wrote no screenshot to {output}")


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, help="a fixtures directory to take the rows from")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "teams-card.png", help="the PNG to write")
    parser.add_argument("--payload", type=Path, help="also write the alert's webhook payload (pretty JSON) here")
    parser.add_argument("--card", type=Path, help="also write the Teams message JSON here")
    parser.add_argument("--scale", type=float, default=1.5, help="device scale factor of the screenshot")
    parser.add_argument("--no-png", action="store_true", help="write only --payload / --card")
    args = parser.parse_args(argv)

    alert = sample_alert(args.fixtures)
    message = teams_message(alert)
    if args.payload:
        args.payload.write_text(json.dumps(alert.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.payload}")
    if args.card:
        args.card.write_text(json.dumps(message, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.card}")
    if not args.no_png:
        render_png(message, args.output, scale=args.scale)
        print(f"wrote {args.output} ({len(alert.rows)} rows, message {len(message_body(message))} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
