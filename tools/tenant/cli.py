"""Command line for the tenant generator (``python tools/generate_tenant.py --help``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from tools.tenant.formats import FORMATS
from tools.tenant.generate import generate
from tools.tenant.params import DEFAULT_START, SAMPLE_PARAMS, TenantParams


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    defaults = TenantParams()
    p = argparse.ArgumentParser(
        prog="generate_tenant.py",
        description="Generate a synthetic Entra ID / Sentinel tenant: SigninLogs, IdentityInfo and "
        "BehaviorAnalytics files, deterministic from the seed.",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory (created if missing)")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="jsonl", help="file format (default jsonl)")
    p.add_argument(
        "--sample",
        action="store_true",
        help="the bundled sample (sample_data/): fixed seed and size plus the planted edge cases; "
        "only --out and --format apply",
    )
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--users", type=int, default=defaults.users)
    p.add_argument("--hours", type=int, default=defaults.hours)
    p.add_argument(
        "--start",
        type=_instant,
        default=DEFAULT_START,
        help=f"first hour, ISO 8601 UTC (default {DEFAULT_START:%Y-%m-%dT%H:%M:%SZ})",
    )
    p.add_argument("--rate", type=float, default=defaults.rate, help="sign-ins per user-hour")
    p.add_argument(
        "--decline-rate", type=_share, default=defaults.decline_rate, help="share of sign-ins that are MFA declines"
    )
    p.add_argument("--fraud-rate", type=_share, default=defaults.fraud_rate, help="share of sign-ins that report fraud")
    p.add_argument("--failure-rate", type=_share, default=defaults.failure_rate, help="share failing otherwise")
    p.add_argument("--attacker-share", type=_share, default=defaults.attacker_share)
    p.add_argument("--ueba-rate", type=_share, default=defaults.ueba_rate)
    p.add_argument("--other-activity-rate", type=_share, default=defaults.other_activity_rate)
    p.add_argument("--identity-rate", type=_share, default=defaults.identity_rate)
    p.add_argument("--case-variant-rate", type=_share, default=defaults.case_variant_rate)
    p.add_argument("--guest-share", type=_share, default=defaults.guest_share)
    p.add_argument("--other-tenant-share", type=_share, default=defaults.other_tenant_share)
    p.add_argument("--ipv6-share", type=_share, default=defaults.ipv6_share)
    p.add_argument("--planted", action="store_true", help="add the sample's planted edge cases")
    p.add_argument(
        "--wide",
        action="store_true",
        help="sign-ins carry the bulky columns of real ones (ConditionalAccessPolicies, "
        "AuthenticationProcessingDetails, ...): about 3.7 KB a row instead of 2.4 KB; the same sign-ins otherwise",
    )
    return p


def params_from(args: argparse.Namespace) -> TenantParams:
    if args.sample:
        return SAMPLE_PARAMS
    return TenantParams(
        seed=args.seed,
        users=args.users,
        hours=args.hours,
        start=args.start,
        rate=args.rate,
        decline_rate=args.decline_rate,
        fraud_rate=args.fraud_rate,
        failure_rate=args.failure_rate,
        attacker_share=args.attacker_share,
        ueba_rate=args.ueba_rate,
        other_activity_rate=args.other_activity_rate,
        identity_rate=args.identity_rate,
        case_variant_rate=args.case_variant_rate,
        guest_share=args.guest_share,
        other_tenant_share=args.other_tenant_share,
        ipv6_share=args.ipv6_share,
        planted=args.planted,
        wide=args.wide,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    p = parser()
    args = p.parse_args(argv)
    try:
        params = params_from(args)
    except ValueError as exc:
        p.error(str(exc))
    report = generate(params, args.out, fmt=args.fmt)
    for table, count in report.rows.items():
        print(f"{table}: {count} rows, {report.bytes[table]:,} bytes", file=sys.stderr)
    print(f"{report.total_rows} rows in {report.seconds:.2f} s ({report.rows_per_second:,.0f} rows/s)", file=sys.stderr)
    return 0
