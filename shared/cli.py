"""The command line, ``python -m shared``: thin wiring over sources, detection and the runner.

The arguments are defined in ``shared.cli_parser``, what ``detect`` prints in ``shared.cli_tables``;
here each sub-command runs, and ``main`` turns errors into one line and an exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

from pydantic import TypeAdapter

from shared.cli_parser import EXIT_FAILURE, EXIT_USAGE, PROG, build_parser
from shared.cli_tables import render_table, rows_text
from shared.detection import detect
from shared.errors import ConfigError, InputError, MfaRejectedError, SourceError
from shared.fleet import is_fleet, names_workspaces, run_fleet
from shared.fleet_reports import describe_fleet, fleet_snapshot, render_fleet_status
from shared.instants import format_instant
from shared.job import assembled, run_scheduled
from shared.models import ReadRequest, Window
from shared.progress import ProgressBar
from shared.reports import describe_report, render_status, state_snapshot
from shared.settings import SAMPLE_CLOCK_FILE, SAMPLE_DATA_DIR, Settings, load_settings
from shared.sources.base import DataSource
from shared.sources.factory import build_source
from shared.sources.fixtures import FixtureSource
from shared.sources.values import parse_datetime
from shared.state import OutboxItem, StateStore, open_state, state_exists
from shared.window_plan import window_end
from shared.workspace_settings import settings_for
from shared.workspaces import Workspace

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "PROG", "build_parser", "main", "render_table"]

_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)


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
    out.write(rows_text(rows, fmt=args.format, encoding=getattr(out, "encoding", None)))
    return 0


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
    if is_fleet(settings):
        fleet = run_fleet(settings, now=now, stream=out)
        out.write(describe_fleet(fleet) + "\n")
        if fleet.error:
            raise SourceError(fleet.error)
        return 0
    report = run_scheduled(settings, now=now, stream=out)
    out.write(describe_report(report) + "\n")
    if report.failed:
        raise SourceError(report.error or "the run failed")
    return 0


def _backfill(args: argparse.Namespace, out: TextIO) -> int:
    settings = _job_settings(args)
    windows = _tiles(args.start, args.end, settings.lookback)
    workspaces = _chosen(settings, args.only) if is_fleet(settings) else [None]
    progress = ProgressBar(total=len(windows) * len(workspaces), stream=sys.stderr)
    now = datetime.now(UTC)
    failures = []
    try:
        for workspace in workspaces:  # one after another: a backfill is a person's command, watched
            own = settings if workspace is None else settings_for(settings, workspace)
            with assembled(own, now=now, stream=out, workspace=workspace) as runner:
                report = runner.backfill(windows, now=now, on_window=progress.advance)
            if workspace is not None:
                out.write(f"Workspace {workspace.label}:\n")
            out.write(describe_report(report) + "\n")
            if report.failed:
                failures.append(report.error if workspace is None else f"{workspace.name}: {report.error}")
    finally:
        progress.close()  # the terminal's line ends, whatever happened
    if failures:
        raise SourceError("; ".join(str(failure) for failure in failures))
    return 0


def _tiles(start: datetime, end: datetime, lookback: timedelta) -> list[Window]:
    if end < start:
        raise InputError(f"--to is before --from ({format_instant(end)} < {format_instant(start)})")
    if end == start:
        raise InputError(f"--from and --to are the same time ({format_instant(start)}): the range is empty")
    if (end - start) % lookback:
        raise InputError(
            f"--from/--to must span a whole number of MFA_LOOKBACK windows ({_iso_duration(lookback)}), "
            f"got {format_instant(start)} .. {format_instant(end)}"
        )
    count = (end - start) // lookback
    return [Window(start + i * lookback, start + (i + 1) * lookback) for i in range(count)]


def _iso_duration(span: timedelta) -> str:
    """``PT1H``, ``P1DT30M``: a duration as the settings are written (pydantic's ISO 8601 form)."""
    return str(_DURATION.dump_python(span, mode="json"))


def _state_settings(args: argparse.Namespace) -> Settings:
    return load_settings(**({} if args.state is None else {"MFA_STATE": args.state}))


def _must_exist(settings: Settings) -> None:
    """A command that reads the one-workspace state needs it to exist already (nothing is created)."""
    if not state_exists(settings):
        raise InputError(f"no state at {settings.state} (check --state or MFA_STATE; a run creates it)")


def _chosen(settings: Settings, wanted: str | None) -> list[Workspace]:
    """Every configured workspace, or the one named (by name or GUID); ``InputError`` listing the names."""
    workspaces = settings.workspaces
    if wanted is None:
        return workspaces
    for workspace in workspaces:
        if wanted.lower() in (workspace.name.lower(), workspace.id):
            return [workspace]
    names = ", ".join(workspace.name for workspace in workspaces) or "none"
    raise InputError(f"--workspace {wanted}: no such workspace (configured: {names})")


def _fleet_status(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    workspaces = _chosen(settings, args.workspace)
    snapshots = fleet_snapshot(settings, workspaces, redact=settings.redactor(), leftovers=args.workspace is None)
    if args.format == "json":
        out.write(json.dumps({"workspaces": snapshots}, indent=2) + "\n")
    else:
        out.write(render_fleet_status(snapshots) + "\n")
    return 0


def _status(args: argparse.Namespace, out: TextIO) -> int:
    settings = _state_settings(args)
    if args.workspace is not None or names_workspaces(settings):
        return _fleet_status(args, settings, out)
    _must_exist(settings)
    state = open_state(settings)
    try:
        snapshot = state_snapshot(state, redact=settings.redactor())
    finally:
        state.close()
    out.write((json.dumps(snapshot, indent=2) if args.format == "json" else render_status(snapshot)) + "\n")
    return 0


def _requeue(args: argparse.Namespace, out: TextIO) -> int:
    if args.all_dead == bool(args.alert_ids):
        raise InputError("name alert ids or give --all-dead (one or the other)")
    settings = _state_settings(args)
    if names_workspaces(settings) or args.workspace is not None:
        scopes = [w.id if w.scoped else None for w in _chosen(settings, args.workspace)]
        scopes = [scope for scope in scopes if state_exists(settings, scope=scope)]
    else:
        scopes = [None]
        _must_exist(settings)
    named = set(args.alert_ids)
    found: list[tuple[StateStore, list[OutboxItem]]] = []
    stores = [open_state(settings, scope=scope) for scope in scopes]
    try:
        for state in stores:
            dead = state.items(status="dead")
            found.append((state, dead if args.all_dead else [item for item in dead if item.alert_id in named]))
        unknown = sorted(named - {item.alert_id for _, chosen in found for item in chosen})
        if unknown:
            raise InputError(f"not dead or not in the outbox: {', '.join(unknown)} (`status` lists dead alerts)")
        requeued: list[OutboxItem] = []
        for state, chosen in found:
            if chosen:
                # Due from when each was first recorded: the next run delivers them, whatever clock it runs
                # at (`run --now` may replay an older hour).
                ids = None if args.all_dead else sorted({item.alert_id for item in chosen})
                requeued += state.requeue(alert_ids=ids, now=min(item.created_at for item in chosen))
    finally:
        for state in stores:
            state.close()
    if not requeued:
        out.write("No dead alert to requeue.\n")
        return 0
    alerts = len({item.alert_id for item in requeued})
    out.write(
        f"Requeued {len(requeued)} delivery(ies) of {alerts} alert(s), each with a fresh attempt count; "
        "the next run delivers them.\n"
    )
    return 0


_SDK_LOGGERS = ("azure.identity", "azure.core")
_HANDLERS: Final[dict[str, Callable[[argparse.Namespace, TextIO], int]]] = {
    "detect": _detect,
    "run": _run,
    "backfill": _backfill,
    "status": _status,
    "requeue": _requeue,
}


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
        return int(_HANDLERS[args.command](args, out))
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
