"""The command line, ``python -m shared``: thin wiring over sources, detection and the runner."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TextIO

from pydantic import TypeAdapter

from shared import __version__
from shared.alerts import format_time
from shared.detection import DEFAULT_RISK_SCORE_CUTOFF, detect
from shared.display import printable
from shared.errors import ConfigError, InputError, MfaRejectedError, SourceError
from shared.job import assembled, run_scheduled
from shared.models import ReadRequest, Window
from shared.progress import ProgressBar
from shared.redaction import Redactor
from shared.reports import describe_report, render_status, state_snapshot
from shared.runner import window_end
from shared.serialise import json_text, jsonable, rows_to_json
from shared.settings import SAMPLE_CLOCK_FILE, SAMPLE_DATA_DIR, Settings, load_settings
from shared.sources.base import DataSource
from shared.sources.factory import build_source
from shared.sources.fixtures import FixtureSource
from shared.sources.values import parse_datetime
from shared.state import open_state

PROG = "python -m shared"
_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)
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
    parser = _Parser(prog=PROG, description="MFA Rejected by User (Sentinel rule v2.0.4) outside Sentinel.")
    parser.add_argument("--version", action="version", version=f"mfa-rejected {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

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
    detect_cmd.set_defaults(handler=_detect)

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
    run_cmd.set_defaults(handler=_run)

    backfill_cmd = commands.add_parser(
        "backfill",
        help="evaluate a range of past windows (does not move the checkpoint)",
        description="Evaluate every MFA_LOOKBACK-long window in [--from, --to), oldest first, and deliver the alerts.",
    )
    _job_options(backfill_cmd)
    backfill_cmd.add_argument(
        "--from", dest="start", type=_moment, required=True, metavar="ISO", help="first window start"
    )
    backfill_cmd.add_argument("--to", dest="end", type=_moment, required=True, metavar="ISO", help="last window end")
    backfill_cmd.set_defaults(handler=_backfill)

    status_cmd = commands.add_parser(
        "status",
        help="show the checkpoint, pending and dead alerts, skipped time",
        description="Show the state: the checkpoint, the outbox (pending, delivered, dead) and skipped time.",
    )
    status_cmd.add_argument("--state", metavar="PATH|table", help="state store (default MFA_STATE)")
    status_cmd.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    status_cmd.set_defaults(handler=_status)

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
    requeue_cmd.set_defaults(handler=_requeue)
    return parser


def _window(args: argparse.Namespace) -> Window | None:
    if args.start is None and args.end is None:
        return None
    if args.start is None or args.end is None:
        raise InputError("--start and --end go together")
    try:
        return Window(args.start, args.end)
    except ValueError as error:
        raise InputError(f"--start/--end: {error}") from None


def _detect(args: argparse.Namespace, out: TextIO) -> int:
    window = _window(args)
    if args.source == "loganalytics":
        overrides: dict[str, Any] = {"MFA_SOURCE": "loganalytics"}
        if args.workspace is not None:
            overrides["LOG_ANALYTICS_WORKSPACE_ID"] = args.workspace
        if args.endpoint is not None:
            overrides["MFA_LA_ENDPOINT"] = args.endpoint
        settings = load_settings(**overrides)
        if window is None:
            # A workspace holds months of data: by default, the latest window the timer would evaluate.
            end = window_end(datetime.now(UTC), ingestion_delay=settings.ingestion_delay)
            window = Window(end - settings.lookback, end)
        source: DataSource = build_source(settings)
    elif args.fixtures is None:
        raise InputError("detect needs --fixtures DIR (or --source loganalytics)")
    else:
        settings = load_settings()
        source = FixtureSource(args.fixtures, strict=args.strict)
    # A window reads exactly what `run` reads for it (IdentityInfo over MFA_IDENTITY_LOOKBACK), so
    # that the preview shows the enrichment the alert will carry; no window means every fixture row.
    request = (
        ReadRequest.same(None)
        if window is None
        else ReadRequest.evaluating(window, identity_lookback=settings.identity_lookback)
    )
    try:
        tables = source.read(request)
    finally:
        source.close()
    cutoff = settings.risk_score_cutoff if args.risk_score_cutoff is None else args.risk_score_cutoff
    rows = detect(tables.signins, tables.identities, tables.behaviors, risk_score_cutoff=cutoff)
    text = (rows_to_json(rows) if args.format == "json" else render_table(rows)) + "\n"
    # Both forms are free of surrogates, so they encode to UTF-8. A stream with a narrower encoding
    # (a Windows pipe, PYTHONIOENCODING=ascii) gets the same data in characters it can write: JSON
    # with \uXXXX escapes (still the same values), a table with backslash escapes.
    encoding = getattr(out, "encoding", None)
    if encoding:
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            if args.format == "json":
                text = json.dumps([jsonable(row) for row in rows], indent=2) + "\n"
            else:
                text = text.encode(encoding, "backslashreplace").decode(encoding)
        except LookupError:
            pass  # an encoding Python does not know: write as is, the stream decides
    out.write(text)
    return 0


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


def _job_settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {"MFA_CONSOLE": args.console}
    if args.fixtures is not None:
        overrides |= {"MFA_SOURCE": "fixtures", "MFA_FIXTURES_DIR": args.fixtures}
    for option, setting in (
        ("source", "MFA_SOURCE"),
        ("workspace", "LOG_ANALYTICS_WORKSPACE_ID"),
        ("endpoint", "MFA_LA_ENDPOINT"),
        ("state", "MFA_STATE"),
    ):
        if getattr(args, option, None) is not None:
            overrides[setting] = getattr(args, option)
    return load_settings(**overrides)


def _sample_clock(settings: Settings) -> datetime | None:
    """The bundled sample is one recorded tenant-hour: by default, run it at the hour it was recorded
    (not when MFA_FIXTURES_TIME_SHIFT moves its times to the present)."""
    clock = settings.fixtures_dir / SAMPLE_CLOCK_FILE
    if (
        settings.source != "fixtures"
        or settings.fixtures_time_shift != "off"
        or settings.fixtures_dir.resolve() != SAMPLE_DATA_DIR
        or not clock.is_file()
    ):
        return None
    return parse_datetime(clock.read_text(encoding="utf-8").strip())


def _run(args: argparse.Namespace, out: TextIO) -> int:
    settings = _job_settings(args)
    now = args.now or _sample_clock(settings) or datetime.now(UTC)
    report = run_scheduled(settings, now=now, stream=out)
    out.write(describe_report(report) + "\n")
    if report.failed:
        raise SourceError(report.error or "the run failed")
    return 0


def _backfill(args: argparse.Namespace, out: TextIO) -> int:
    settings = _job_settings(args)
    windows = _tiles(args.start, args.end, settings.lookback)
    progress = ProgressBar(total=len(windows), stream=sys.stderr)
    now = datetime.now(UTC)
    try:
        with assembled(settings, now=now, stream=out) as runner:
            runner.on_window = progress.advance
            report = runner.backfill(windows, now=now)
    finally:
        progress.close()  # the terminal's line ends, whatever happened
    out.write(describe_report(report) + "\n")
    if report.failed:
        raise SourceError(report.error or "the backfill failed")
    return 0


def _tiles(start: datetime, end: datetime, lookback: timedelta) -> list[Window]:
    if end < start:
        raise InputError(f"--to is before --from ({format_time(end)} < {format_time(start)})")
    if end == start:
        raise InputError(f"--from and --to are the same time ({format_time(start)}): the range is empty")
    if (end - start) % lookback:
        raise InputError(
            f"--from/--to must span a whole number of MFA_LOOKBACK windows ({_iso_duration(lookback)}), "
            f"got {format_time(start)} .. {format_time(end)}"
        )
    count = (end - start) // lookback
    return [Window(start + i * lookback, start + (i + 1) * lookback) for i in range(count)]


def _iso_duration(span: timedelta) -> str:
    """``PT1H``, ``P1DT30M``: a duration as the settings are written (pydantic's ISO 8601 form)."""
    return str(_DURATION.dump_python(span, mode="json"))


def _existing_state(args: argparse.Namespace) -> Settings:
    """The settings of a command that reads the state: it must exist already (nothing is created)."""
    settings = load_settings(**({} if args.state is None else {"MFA_STATE": args.state}))
    if not settings.uses_table_state and not Path(settings.state).is_file():
        raise InputError(f"no state at {settings.state} (check --state or MFA_STATE; a run creates it)")
    return settings


def _status(args: argparse.Namespace, out: TextIO) -> int:
    settings = _existing_state(args)
    urls, keys = settings.secrets()
    state = open_state(settings)
    try:
        snapshot = state_snapshot(state, redact=Redactor(urls=urls, secrets=keys))
    finally:
        state.close()
    out.write((json.dumps(snapshot, indent=2) if args.format == "json" else render_status(snapshot)) + "\n")
    return 0


def _requeue(args: argparse.Namespace, out: TextIO) -> int:
    if args.all_dead == bool(args.alert_ids):
        raise InputError("name alert ids or give --all-dead (one or the other)")
    settings = _existing_state(args)
    state = open_state(settings)
    try:
        dead = state.items(status="dead")
        named = set(args.alert_ids)
        unknown = sorted(named - {item.alert_id for item in dead})
        if unknown:
            raise InputError(f"not dead or not in the outbox: {', '.join(unknown)} (`status` lists dead alerts)")
        chosen = dead if args.all_dead else [item for item in dead if item.alert_id in named]
        if not chosen:
            out.write("No dead alert to requeue.\n")
            return 0
        # Due from when each was first recorded: the next run delivers them, whatever clock it runs at
        # (`run --now` may replay an older hour).
        requeued = state.requeue(
            alert_ids=None if args.all_dead else args.alert_ids, now=min(item.created_at for item in chosen)
        )
    finally:
        state.close()
    alerts = len({item.alert_id for item in requeued})
    out.write(
        f"Requeued {len(requeued)} delivery(ies) of {alerts} alert(s), each with a fresh attempt count; "
        "the next run delivers them.\n"
    )
    return 0


_TABLE_COLUMNS = (
    ("UEBARiskScore", "Score"),
    ("UserPrincipalName", "User"),
    ("FailedIPAddress", "IP"),
    ("StartTime", "First"),
    ("EndTIme", "Last"),
    ("AccountUPN", "IdentityInfo"),
    ("AssignedRoles", "Roles"),
    ("GroupMembership", "Groups"),
)
_MAX_CELL = 40
# User names are shown whole: a guest's UPN (alice_contoso.com#EXT#@fabrikam.onmicrosoft.com) is
# long, and cut short it names nobody.
_WHOLE_COLUMNS = frozenset({"UserPrincipalName", "AccountUPN"})


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    """The main columns of result rows as an aligned text table (``--format json`` has all 16).

    Each cell shows control characters, separators, bidirectional controls and lone surrogates as
    backslash escapes (``\\x00``, ``\\n``, ``\\x1b``, ``\\u202e``, ``\\ud800``), so that every
    row is one line and the table cannot drive the terminal; ``--format json`` has the exact values.
    """
    if not rows:
        return "No result rows."
    header = [title for _, title in _TABLE_COLUMNS]
    body = [[_cell(row[column], whole=column in _WHOLE_COLUMNS) for column, _ in _TABLE_COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"{len(rows)} row(s).")
    return "\n".join(lines)


def _cell(value: Any, *, whole: bool = False) -> str:
    """``value`` as a table cell: ``-`` when empty (null, "", [] or {}), cut to ``_MAX_CELL``
    characters unless ``whole``."""
    if value is None or (isinstance(value, str | list | dict) and not value):
        return "-"
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, list):
        text = ", ".join(str(jsonable(v)) for v in value)
    elif isinstance(value, dict):
        text = json_text(jsonable(value))
    else:
        text = str(value)
    text = printable(text)
    return text if whole or len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


_SDK_LOGGERS = ("azure.identity", "azure.core")


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=err,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # DefaultAzureCredential logs every credential it tried at WARNING before failing; our error
    # line names the cause and the fix. --verbose shows it all.
    for name in _SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if args.verbose else logging.ERROR)
    try:
        return int(args.handler(args, out))
    except (InputError, ConfigError) as error:
        err.write(f"{PROG} {args.command}: error: {error}\n")
        return EXIT_USAGE
    except MfaRejectedError as error:
        err.write(f"{PROG} {args.command}: failed: {error}\n")
        return EXIT_FAILURE
    except Exception as error:  # a defect: still one line (the traceback with --verbose)
        logging.getLogger(__name__).debug("unexpected error", exc_info=True)
        err.write(f"{PROG} {args.command}: failed: unexpected {type(error).__name__}: {error} (please report it)\n")
        return EXIT_FAILURE
