"""Timer schedules as the Functions host reads them: six-field NCRONTAB, checked before deploying."""

from __future__ import annotations

import re

# NCRONTAB as the Functions host reads a timer schedule (the NCrontab library, six fields with
# seconds): each field a list of `*`, values, ranges and steps; months and days of the week also
# by English name or any prefix of it, case-insensitive (`Jan`, `mon`).
_CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    (
        "month",
        1,
        12,
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
    ),
    ("day-of-week", 0, 6, ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")),
)
_CRON_EXAMPLE = "'0 5 * * * *' (hourly at minute 5)"


def check_ncrontab(expression: str) -> None:
    """``ValueError`` saying what is wrong with a timer schedule, unless it is a six-field NCRONTAB
    expression the Functions host accepts."""
    if re.fullmatch(r"\s*\d+(:\d+){1,3}(\.\d+)?\s*", expression):
        # The host also takes a TimeSpan (hh:mm:ss), but only on an App Service plan.
        raise ValueError(
            f"{expression!r} is a TimeSpan, which works only on an App Service plan, and this app runs on Flex "
            f"Consumption: use NCRONTAB, such as {_CRON_EXAMPLE}"
        )
    fields = expression.split()
    if len(fields) != len(_CRON_FIELDS):
        hint = " (five fields: the seconds field, which comes first, is missing)" if len(fields) == 5 else ""
        raise ValueError(
            "expected an NCRONTAB expression of six fields (second minute hour day month day-of-week) "
            f"such as {_CRON_EXAMPLE}, got {expression!r}{hint}"
        )
    for text, (kind, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        try:
            for part in text.split(","):
                _cron_part(part, low, high, names)
        except ValueError as error:
            raise ValueError(f"the {kind} field of {expression!r} is invalid: {error}") from None


def _cron_part(part: str, low: int, high: int, names: tuple[str, ...]) -> None:
    base, slash, step = part.partition("/")
    if slash and not (re.fullmatch(r"[0-9]+", step) and int(step) >= 1):
        raise ValueError(f"the step {step!r} after '/' is not a whole number of at least 1")
    if base == "*":
        return
    first, dash, last = base.partition("-")
    start = _cron_value(first, low, high, names)
    if dash and _cron_value(last, low, high, names) < start:
        raise ValueError(f"the range {base!r} runs backwards (the smaller value comes first)")


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if re.fullmatch(r"[0-9]+", text):
        if not low <= int(text) <= high:
            raise ValueError(f"{text} is outside {low}-{high}")
        return int(text)
    for index, name in enumerate(names):
        if text and name.startswith(text.lower()):
            return low + index
    expected = f"a number {low}-{high}" + (f" or a name such as {names[1][:3].title()}" if names else "")
    raise ValueError(f"{text!r} is not {expected}")
