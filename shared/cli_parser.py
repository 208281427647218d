"""The command line's arguments: one argparse parser, a sub-command for each job (``shared.cli`` runs them)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from shared import __version__
from shared.detection import DEFAULT_RISK_SCORE_CUTOFF
from shared.sources.values import parse_datetime

PROG = "python -m shared"
EXIT_USAGE = 2  # bad input or bad arguments
EXIT_FAILURE = 1  # the job could not complete (a source or a store failed)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _moment(text: str) -> datetime:
    try:
        moment = parse_datetime(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if moment is None:
        raise argparse.ArgumentTypeError("empty time")
    return moment


def _cutoff(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m shared``; ``args.command`` names the sub-command given."""
    parser = _Parser(prog=PROG, description="MFA Rejected by User (Sentinel rule v2.0.4) outside Sentinel.")
    parser.add_argument("--version", action="version", version=f"mfa-rejected {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_detect(commands)
    _add_run(commands)
    _add_backfill(commands)
    _add_status(commands)
    _add_requeue(commands)
    return parser


# The object add_subparsers returns (argparse's _SubParsersAction, private in typeshed).
_Commands = Any


def _add_detect(commands: _Commands) -> None:
    detect_cmd = commands.add_parser(
        "detect",
        help="print the rule's result rows for some tables",
        description="Run the rule's detection over the three tables and print its result rows.",
    )
    detect_cmd.add_argument("--fixtures", type=Path, metavar="DIR", help="directory with the three table files")
    detect_cmd.add_argument(
        "--source", choices=("fixtures", "loganalytics"), default="fixtures", help="where the tables come from"
    )
    detect_cmd.add_argument("--workspace", metavar="ID", help="Log Analytics workspace id (--source loganalytics)")
    detect_cmd.add_argument("--endpoint", metavar="URL", help="Log Analytics endpoint (default MFA_LA_ENDPOINT)")
    detect_cmd.add_argument(
        "--start",
        type=_moment,
        metavar="ISO",
        help="window start (inclusive), e.g. 2026-11-28T09:00Z (default: all fixture rows; for Log Analytics "
        "the latest MFA_LOOKBACK window ending MFA_INGESTION_DELAY ago)",
    )
    detect_cmd.add_argument("--end", type=_moment, metavar="ISO", help="window end (exclusive)")
    detect_cmd.add_argument(
        "--risk-score-cutoff",
        type=_cutoff,
        default=None,
        metavar="N",
        help=f"alert when the UEBA score is above N (default MFA_RISK_SCORE_CUTOFF, as `run`: "
        f"{DEFAULT_RISK_SCORE_CUTOFF} unless set)",
    )
    detect_cmd.add_argument("--format", choices=("json", "table"), default="json", help="output format (default json)")
    detect_cmd.add_argument(
        "--strict",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="--strict parses every line of JSON Lines files whatever their size; --no-strict leaves lines that "
        "cannot matter unparsed whatever their size (default: parse all of files up to 128 MB)",
    )


def _add_run(commands: _Commands) -> None:
    run_cmd = commands.add_parser(
        "run",
        help="the main job, exactly as the timer runs it: due windows, alerts, delivery",
        description=(
            "Run the scheduled job once: evaluate every window due since the checkpoint, record the alerts, "
            "deliver them. Settings come from the environment (see the README); flags override them. "
            "With no configuration it evaluates the bundled sample data and prints the alerts."
        ),
    )
    _job_options(run_cmd)
    run_cmd.add_argument(
        "--now", type=_moment, metavar="ISO", help="the clock (default: now; the sample's hour for the sample)"
    )


def _add_backfill(commands: _Commands) -> None:
    backfill_cmd = commands.add_parser(
        "backfill",
        help="evaluate a range of past windows (does not move the checkpoint)",
        description="Evaluate every MFA_LOOKBACK-long window in [--from, --to), oldest first, and deliver the alerts.",
    )
    _job_options(backfill_cmd)
    backfill_cmd.add_argument(
        "--only", metavar="NAME", help="with many workspaces: only this one, by name or GUID (default: every one)"
    )
    backfill_cmd.add_argument(
        "--from", dest="start", type=_moment, required=True, metavar="ISO", help="first window start"
    )
    backfill_cmd.add_argument("--to", dest="end", type=_moment, required=True, metavar="ISO", help="last window end")


def _add_status(commands: _Commands) -> None:
    status_cmd = commands.add_parser(
        "status",
        help="show the checkpoint, pending and dead alerts, skipped time",
        description="Show the state: the checkpoint, the outbox (pending, delivered, dead) and skipped time.",
    )
    status_cmd.add_argument("--state", metavar="PATH|table", help="state store (default MFA_STATE)")
    status_cmd.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    status_cmd.add_argument(
        "--workspace", metavar="NAME", help="one configured workspace, by name or GUID (default: every one)"
    )


def _add_requeue(commands: _Commands) -> None:
    requeue_cmd = commands.add_parser(
        "requeue",
        help="send dead alerts again (after the receiver is fixed)",
        description=(
            "Put dead alerts back in the outbox with a fresh attempt count: the next run delivers them. "
            "Name alert ids (as `status` lists them; every sink's dead copy is requeued) or --all-dead."
        ),
    )
    requeue_cmd.add_argument("alert_ids", nargs="*", metavar="ID", help="alert id, e.g. msg_0fca...")
    requeue_cmd.add_argument("--all-dead", action="store_true", help="every dead alert")
    requeue_cmd.add_argument("--state", metavar="PATH|table", help="state store (default MFA_STATE)")
    requeue_cmd.add_argument(
        "--workspace", metavar="NAME", help="with many workspaces: only this one's dead alerts (default: every one)"
    )


def _job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fixtures", type=Path, metavar="DIR", help="read fixture files from DIR (sets MFA_SOURCE=fixtures)"
    )
    parser.add_argument("--source", choices=("fixtures", "loganalytics"), help="data source (default MFA_SOURCE)")
    parser.add_argument(
        "--workspace", metavar="ID", help="Log Analytics workspace id (default LOG_ANALYTICS_WORKSPACE_ID)"
    )
    parser.add_argument("--endpoint", metavar="URL", help="Log Analytics endpoint (default MFA_LA_ENDPOINT)")
    parser.add_argument(
        "--state", metavar="PATH|table", help="state store: an SQLite path or 'table' (default MFA_STATE)"
    )
    parser.add_argument(
        "--console", action=argparse.BooleanOptionalAction, default=True, help="print alerts here (default on)"
    )
