"""Render the Teams card of a sample alert to a PNG, as a person would see it, and write the sample
webhook payload.

    python tools/render_teams_card.py                  # `make card`: docs/_build/teams-card.png (untracked)
    python tools/render_teams_card.py --output docs/teams-card.png --payload docs/sample-webhook-payload.json
                                                       # `make card-docs`: the tracked image and payload
    python tools/render_teams_card.py --fixtures DIR --output card.png

The card is rendered by the official ``adaptivecards`` JavaScript library (node_modules, ``npm ci``)
in headless Chromium (Debian: ``apt-get install -y chromium``; or set CHROMIUM). The rows come from
fixture files (default: the bundled sample) through the real source and detection; the window is the
whole hours they cover, so the output is reproducible.

Line breaks depend on the font, so the page names one: Liberation Sans (Debian: ``apt-get install -y
fonts-liberation``), which has Arial's metrics. The tracked docs/teams-card.png is written only with
it (fontconfig must list it, and Chromium must use it); any other output is written without it, with
a warning.
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
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from anywhere

from shared.alert_links import PortalLinks  # noqa: E402
from shared.alerts import Alert, build_alerts  # noqa: E402
from shared.models import Row, Window  # noqa: E402
from shared.serialise import json_text  # noqa: E402
from shared.settings import SAMPLE_DATA_DIR  # noqa: E402
from shared.sinks.teams_card import message_body, teams_message  # noqa: E402

TEMPLATE = Path(__file__).resolve().parent / "teams_card_preview.html"
LIBRARY = REPO / "node_modules" / "adaptivecards"
DOCS_IMAGE = REPO / "docs" / "teams-card.png"  # tracked: written only with the pinned font
DEFAULT_OUTPUT = REPO / "docs" / "_build" / "teams-card.png"  # git-ignored (and left out of the package)
# A made-up workspace, so the preview shows the "Open the query in Log Analytics" button too.
SAMPLE_WORKSPACE = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-sentinel/providers/"
    "Microsoft.OperationalInsights/workspaces/sentinel-workspace"
)
WIDTH = 760
# The font the card is laid out in; Arial has the same metrics, so it stands in where Liberation is absent.
FONT_FAMILY = "Liberation Sans"
FONT_PACKAGE = "fonts-liberation"  # Debian's package holding it
FONT_STACK = f'"{FONT_FAMILY}", Arial, sans-serif'
FONT_STYLES = ("Regular", "Bold")  # the card's weights 400 and 600
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


def sample_alert(fixtures: Path) -> Alert:
    rows = fixture_rows(fixtures)
    if not rows:
        raise SystemExit(f"{fixtures}: the rule finds no rows in these fixtures; nothing to render")
    window = covering_window(rows)
    (alert,) = build_alerts(rows, window=window, detected_at=window.end + timedelta(minutes=5))
    return alert


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit("chromium not found: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)")
    return found


def font_styles(family: str = FONT_FAMILY) -> set[str] | None:
    """The styles fontconfig lists for ``family`` (empty: not installed), or None without ``fc-list``."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    listed = _run([fc_list, f":family={family}", "style"])
    return {style.strip() for line in listed.splitlines() for style in line.partition("=")[2].split(",")} - {""}


def writes_docs_image(output: Path) -> bool:
    return output.resolve() == DOCS_IMAGE.resolve()


def check_font_installed(styles: set[str] | None) -> None:
    """Before the tracked image is written: fontconfig must list the pinned font (else one line, and exit)."""
    install = f"Debian: apt-get install -y {FONT_PACKAGE}"
    if styles is None:
        raise SystemExit(f"fc-list not found, so {FONT_FAMILY} cannot be checked ({install} fontconfig)")
    missing = [style for style in FONT_STYLES if style not in styles]
    if missing:
        raise SystemExit(
            f"{FONT_FAMILY} {'/'.join(missing)} is not installed ({install}): "
            f"{DOCS_IMAGE.relative_to(REPO)} is rendered only with it"
        )


def _font_problem(output: Path, problem: str) -> None:
    """Stop for the tracked image; only a warning for any other output."""
    if writes_docs_image(output):
        raise SystemExit(f"{problem}: {DOCS_IMAGE.relative_to(REPO)} is rendered only with it")
    print(f"warning: {problem}: line breaks may differ from {DOCS_IMAGE.relative_to(REPO)}", file=sys.stderr)


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
        .replace("__FONT_STACK__", FONT_STACK)
        .replace("__FONT_FAMILY__", FONT_FAMILY)
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
        # What the browser really used (it may not see what fontconfig lists, e.g. a CHROMIUM with fonts of its own).
        if '<pre id="font" hidden="">true</pre>' not in dom:
            _font_problem(
                output, f"{Path(browser).name} did not use {FONT_FAMILY} (Debian: apt-get install -y {FONT_PACKAGE})"
            )
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fixtures",
        type=Path,
        default=SAMPLE_DATA_DIR,
        help="fixtures to take the rows from (default: the sample)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"the PNG to write (default {DEFAULT_OUTPUT.relative_to(REPO)}; {DOCS_IMAGE.relative_to(REPO)} "
        f"only with {FONT_FAMILY} installed)",
    )
    parser.add_argument("--payload", type=Path, help="also write the alert's webhook payload (pretty JSON) here")
    parser.add_argument("--card", type=Path, help="also write the Teams message JSON here")
    parser.add_argument(
        "--workspace-resource-id",
        default=SAMPLE_WORKSPACE,
        help="the workspace the query button opens (default: a made-up sample; '' for no query button)",
    )
    parser.add_argument("--scale", type=float, default=1.5, help="device scale factor of the screenshot")
    parser.add_argument("--no-png", action="store_true", help="write only --payload / --card")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.no_png and writes_docs_image(args.output):
        check_font_installed(font_styles())  # before anything is written

    alert = sample_alert(args.fixtures)
    message = teams_message(alert, links=PortalLinks(workspace_resource_id=args.workspace_resource_id or None))
    for path in (args.payload, args.card):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    if args.payload:
        args.payload.write_text(json_text(alert.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.payload}")
    if args.card:
        args.card.write_text(json_text(message, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.card}")
    if not args.no_png:
        render_png(message, args.output, scale=args.scale)
        print(f"wrote {args.output} ({len(alert.rows)} rows, message {len(message_body(message))} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
