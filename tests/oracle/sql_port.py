"""The rule as DuckDB SQL over the fixture files: a hand-written oracle for ``shared.detection``.

``rule.sql`` (beside this file) holds the rule, written from docs/rule-semantics.md; this module turns
the three fixture files of a directory into the views the SQL reads (``signin_rows``,
``identity_rows``, ``behavior_rows``), in Kusto's value model, and runs it. It imports nothing
from the product (``shared``): it has its own output column names and its own JSON conversion
(tests/oracle/test_oracles.py checks the names against the product's). The benchmark runs it as
the product's peer, and ``sample_data/expected.json`` is computed here.

It is one reading of the rule, as the product is; ``tests/oracle/verbatim_kql.py`` is the third
implementation, which runs the rule's own KQL text.

    python -m tests.oracle.sql_port sample_data                  # print the result rows as JSON
    python -m tests.oracle.sql_port sample_data --write-expected sample_data/expected.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import duckdb

logger = logging.getLogger(__name__)

RULE_SQL: Final = Path(__file__).with_name("rule.sql")

# The rule's 16 output columns, in order (the product's are checked equal in the tests).
OUTPUT_COLUMNS: Final[tuple[str, ...]] = (
    "UserPrincipalName",
    "UserId",
    "AADTenantId",
    "FailedIPAddress",
    "StartTime",
    "EndTIme",  # sic: the rule spells it with a capital I
    "Name",
    "UPNSuffix",
    "AccountUPN",
    "Tags",
    "GroupMembership",
    "AssignedRoles",
    "UserType",
    "UserAccountControl",
    "MaxInvestigationScore",
    "UEBARiskScore",
)

DATETIME_COLUMNS: Final = ("StartTime", "EndTIme")
DYNAMIC_COLUMNS: Final = ("Tags", "GroupMembership", "AssignedRoles", "UserType", "UserAccountControl")

# The columns the rule reads, by the way they must be interpreted ("tags": IdentityInfo.Tags, a
# string that some workspaces fill with a JSON array; "resulttype": a string, or a number a
# fixture may give).
TABLES: Final[dict[str, tuple[str, dict[str, str]]]] = {
    "signin_rows": (
        "SigninLogs",
        {
            "TimeGenerated": "datetime",
            "ResultType": "resulttype",
            "Status": "dynamic",
            "UserPrincipalName": "string",
            "UserId": "string",
            "AADTenantId": "string",
            "IPAddress": "string",
        },
    ),
    "identity_rows": (
        "IdentityInfo",
        {
            "TimeGenerated": "datetime",
            "AccountUPN": "string",
            "Tags": "tags",
            "GroupMembership": "dynamic",
            "AssignedRoles": "dynamic",
            "UserType": "string",
        },
    ),
    "behavior_rows": (
        "BehaviorAnalytics",
        {
            "TimeGenerated": "datetime",
            "ActivityType": "string",
            "SourceIPAddress": "string",
            "UserName": "string",
            "InvestigationPriority": "long",
        },
    ),
}

FORMATS: Final = ("jsonl", "json", "azjson", "api", "csv")
EXTENSIONS: Final = {"jsonl": "jsonl", "json": "json", "azjson": "json", "api": "json", "csv": "csv"}
PORTAL_TIME_FORMATS: Final = ("%m/%d/%Y, %I:%M:%S.%g %p", "%m/%d/%Y, %I:%M:%S %p")
MAX_OBJECT_BYTES: Final = 2**31 - 1  # an API response is one JSON object

# --- value conversion, per the way a format holds values -------------------------------------
# Native JSON formats (jsonl, json, api cells) give each cell as a JSON value; text formats
# (csv, azjson) give every cell as text. Either way the result is Kusto's value model.


def _datetime_from_text(text: str) -> str:
    # ISO 8601 (any offset; none means UTC) or the portal's "M/D/YYYY, h:mm:ss.fff AM/PM" (UTC).
    # Digits beyond microseconds are truncated, as Python's fromisoformat does.
    portal = ", ".join(f"'{f}'" for f in PORTAL_TIME_FORMATS)
    return (
        f"CASE WHEN nullif(trim({text}), '') IS NULL THEN NULL "
        f"WHEN {text} LIKE '%/%' THEN strptime({text}, [{portal}]) "
        f"ELSE CAST(CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP) END"
    )


def _dynamic_from_text(text: str) -> str:
    # Ingestion into a dynamic column parses JSON text; text that is not JSON stays a string.
    return (
        f"CASE WHEN {text} IS NULL OR {text} = '' THEN NULL "
        f"WHEN json_valid({text}) THEN CAST({text} AS JSON) ELSE to_json({text}) END"
    )


def _tags_from_text(text: str) -> str:
    # IdentityInfo.Tags is a string column (never null: empty is ""), which some workspaces fill
    # with a JSON array: text that parses as a JSON array is that array, any other text the string.
    return (
        f"CASE WHEN {text} IS NULL THEN to_json('') "
        f"WHEN json_type(TRY_CAST({text} AS JSON)) = 'ARRAY' THEN CAST({text} AS JSON) ELSE to_json({text}) END"
    )


def _from_json(kind: str, cell: str) -> str:
    """SQL turning a JSON cell into the Kusto value of ``kind``."""
    text = f"({cell} ->> '$')"
    is_null = f"({cell} IS NULL OR json_type({cell}) = 'NULL')"
    if kind == "string":
        return f"coalesce({text}, '')"
    if kind == "datetime":
        return _datetime_from_text(text)
    if kind == "long":
        return (
            f"CASE WHEN {is_null} THEN NULL WHEN json_type({cell}) = 'VARCHAR' "
            f"THEN CAST(nullif(trim({text}), '') AS BIGINT) ELSE CAST(CAST({cell} AS DOUBLE) AS BIGINT) END"
        )
    if kind == "resulttype":
        return f"CASE WHEN {is_null} THEN NULL ELSE {cell} END"
    if kind == "dynamic":
        return (
            f"CASE WHEN {is_null} THEN NULL WHEN json_type({cell}) = 'VARCHAR' "
            f"THEN ({_dynamic_from_text(text)}) ELSE {cell} END"
        )
    if kind == "tags":
        # An array stays an array; anything else is the string column's text (tostring).
        return (
            f"CASE WHEN {is_null} THEN to_json('') WHEN json_type({cell}) = 'ARRAY' THEN {cell} "
            f"WHEN json_type({cell}) = 'VARCHAR' THEN ({_tags_from_text(text)}) "
            f"ELSE to_json(kql_tostring({cell})) END"
        )
    raise ValueError(kind)


def _from_text(kind: str, cell: str) -> str:
    """SQL turning a text cell (csv, az CLI JSON) into the Kusto value of ``kind``."""
    if kind == "string":
        return f"coalesce({cell}, '')"
    if kind == "datetime":
        return _datetime_from_text(cell)
    if kind == "long":
        return f"CAST(nullif(trim({cell}), '') AS BIGINT)"
    if kind == "resulttype":
        return f"CASE WHEN {cell} IS NULL THEN NULL ELSE to_json({cell}) END"
    if kind == "dynamic":
        return _dynamic_from_text(cell)
    if kind == "tags":
        return _tags_from_text(cell)
    raise ValueError(kind)


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- reading each format -----------------------------------------------------------------------


def table_file(directory: Path, table: str, fmt: str) -> Path:
    path = directory / f"{table}.{EXTENSIONS[fmt]}"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no {table} file for format {fmt}")
    return path


def _select_json_records(path: Path, columns: Mapping[str, str], *, array: bool, text: bool) -> str:
    read_as = "VARCHAR" if text else "JSON"
    spec = ", ".join(f"{_literal(name)}: '{read_as}'" for name in columns)
    source = (
        f"read_json({_literal(str(path))}, format='{'array' if array else 'newline_delimited'}', "
        f"columns={{{spec}}}, maximum_object_size={MAX_OBJECT_BYTES})"
    )
    convert = _from_text if text else _from_json
    fields = ", ".join(f"{convert(kind, _quote_identifier(name))} AS {name}" for name, kind in columns.items())
    return f"SELECT {fields} FROM {source}"


def _select_api(con: duckdb.DuckDBPyConnection, path: Path, columns: Mapping[str, str]) -> str:
    source = (
        f"read_json({_literal(str(path))}, format='auto', records=true, columns={{'tables': 'JSON'}}, "
        f"maximum_object_size={MAX_OBJECT_BYTES})"
    )
    found = con.execute(f"SELECT json_extract_string(tables, '$[0].columns[*].name') FROM {source}").fetchall()
    names: list[str] = list(found[0][0]) if found and found[0][0] else []
    fields = []
    for name, kind in columns.items():
        cell = f"(r -> {names.index(name)})" if name in names else "CAST(NULL AS JSON)"
        fields.append(f"{_from_json(kind, cell)} AS {name}")
    rows = f"SELECT unnest(json_extract(tables, '$[0].rows[*]')) AS r FROM {source}"
    return f"SELECT {', '.join(fields)} FROM ({rows})"


def _select_csv(con: duckdb.DuckDBPyConnection, path: Path, columns: Mapping[str, str]) -> str:
    source = f"read_csv({_literal(str(path))}, all_varchar=true, header=true, quote='\"', escape='\"')"
    headers = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    fields = []
    for name, kind in columns.items():
        # The portal heads time columns "TimeGenerated [UTC]".
        header = next((h for h in (f"{name} [UTC]", name) if h in headers), None)
        cell = _quote_identifier(header) if header else "CAST(NULL AS VARCHAR)"
        fields.append(f"{_from_text(kind, cell)} AS {name}")
    return f"SELECT {', '.join(fields)} FROM {source}"


def _select(con: duckdb.DuckDBPyConnection, path: Path, columns: Mapping[str, str], fmt: str) -> str:
    if fmt == "jsonl":
        return _select_json_records(path, columns, array=False, text=False)
    if fmt == "json":
        return _select_json_records(path, columns, array=True, text=False)
    if fmt == "azjson":
        return _select_json_records(path, columns, array=True, text=True)
    if fmt == "api":
        return _select_api(con, path, columns)
    if fmt == "csv":
        return _select_csv(con, path, columns)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _rule_parts() -> tuple[str, str]:
    text = RULE_SQL.read_text(encoding="utf-8")
    _, macros, query = text.split("-- @@ ")
    return macros.removeprefix("macros"), query.removeprefix("query")


def connect(
    directory: Path | str,
    *,
    fmt: str = "jsonl",
    start: datetime | None = None,
    end: datetime | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection with the rule's macros and the three input views over ``directory``.

    ``start``/``end`` bound TimeGenerated of every table to ``[start, end)`` (the rule's window).
    """
    directory = Path(directory)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    macros, _ = _rule_parts()
    # Comment lines may hold ";": drop them, then run the CREATE MACRO statements one by one.
    code = "\n".join(line for line in macros.splitlines() if not line.lstrip().startswith("--"))
    for statement in code.split(";"):
        if statement.strip():
            con.execute(statement)
    bounds: list[str] = []
    if start is not None:
        bounds.append(f"TimeGenerated >= TIMESTAMP '{_naive_utc(start).isoformat()}'")
    if end is not None:
        bounds.append(f"TimeGenerated < TIMESTAMP '{_naive_utc(end).isoformat()}'")
    where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
    for view, (table, columns) in TABLES.items():
        select = _select(con, table_file(directory, table, fmt), columns, fmt)
        if view == "identity_rows":
            # The row's position in the file breaks arg_max ties (OPEN in Kusto): first read wins.
            select = f"SELECT row_number() OVER () AS file_order, * FROM ({select})"
        con.execute(f"CREATE TEMP VIEW {view} AS SELECT * FROM ({select}){where}")
    return con


def _element_key(value: Any) -> str:
    # ensure_ascii: a lone surrogate (from a "\\ud800" escape in the data) stays an escape.
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


def _row(values: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(OUTPUT_COLUMNS, values, strict=True))
    for column in DATETIME_COLUMNS:
        if row[column] is not None:
            row[column] = row[column].replace(tzinfo=UTC)
    for column in DYNAMIC_COLUMNS:
        if row[column] is not None:
            # make_set's element order is undefined in Kusto: sort for a deterministic result.
            row[column] = sorted(json.loads(row[column]), key=_element_key)
    return row


def sort_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The rule sorts by UEBARiskScore desc only; ties are broken here for deterministic output."""
    return (-row["UEBARiskScore"], row["UserPrincipalName"], row["FailedIPAddress"], row["AccountUPN"])


def run_rule(
    directory: Path | str,
    *,
    fmt: str = "jsonl",
    cutoff: int = 3,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    """The rule's result rows on the fixture files in ``directory`` (``<Table>.<ext>``).

    Rows have the 16 output columns in order; datetimes are aware UTC ``datetime``; dynamic
    columns are lists (sorted) or None; rows are ordered by ``sort_key``.
    """
    con = connect(directory, fmt=fmt, start=start, end=end)
    try:
        _, query = _rule_parts()
        rows = con.execute(query, {"cutoff": cutoff}).fetchall()
    finally:
        con.close()
    return sorted((_row(values) for values in rows), key=sort_key)


# --- JSON output ---------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    # Datetimes as ISO 8601 UTC with "Z", fraction digits only when present (as the product prints
    # them, shared.instants.format_instant; written out here so that the oracle stays independent).
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def to_json_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Result rows as JSON-ready dicts (as ``python -m shared detect`` prints them), columns in output order."""
    return [_jsonable({column: row[column] for column in OUTPUT_COLUMNS}) for row in rows]


def json_text(value: Any, *, indent: int | None = None) -> str:
    """JSON text that is always valid UTF-8: every non-ASCII character as its ``\\uXXXX`` escape,
    so a lone surrogate in the data is written as an escape instead of failing to encode."""
    return json.dumps(value, indent=indent, ensure_ascii=True)


def expected_json(rows: Iterable[Mapping[str, Any]]) -> str:
    return json_text(to_json_rows(rows), indent=2) + "\n"


# --- command line ------------------------------------------------------------------------------


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.oracle.sql_port", description=__doc__.splitlines()[0])
    p.add_argument("directory", type=Path, help="directory holding SigninLogs/IdentityInfo/BehaviorAnalytics files")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="jsonl")
    p.add_argument("--cutoff", type=int, default=3, help="riskScoreCutoff (default 3)")
    p.add_argument("--start", type=_instant, help="window start (ISO 8601, inclusive)")
    p.add_argument("--end", type=_instant, help="window end (ISO 8601, exclusive)")
    p.add_argument("--write-expected", type=Path, metavar="FILE", help="write the rows as JSON to FILE")
    args = p.parse_args(argv)
    try:
        rows = run_rule(args.directory, fmt=args.fmt, cutoff=args.cutoff, start=args.start, end=args.end)
    except (FileNotFoundError, duckdb.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = expected_json(rows)
    if args.write_expected:
        args.write_expected.write_text(text, encoding="utf-8")
        print(f"{len(rows)} rows written to {args.write_expected}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
