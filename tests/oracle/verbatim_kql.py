"""The rule's own KQL text, run by duckdb-kql: a mechanical oracle.

The query is read verbatim from the rule file (tests/data/rule/), from ``query: |`` to
``entityMappings:``, and changed only by the exact string rewrites in ``REWRITES``, each of which
must occur exactly once. duckdb-kql (Microsoft's KQL grammar translated to DuckDB SQL) runs it over
the three tables loaded from jsonl fixture files; ``normalise`` is the one place where its result
is brought to the shape the other implementations give. Nothing here reads the rule as a person
would: no stage of it is restated. Imports nothing from the product (``shared``).

    python -m tests.oracle.verbatim_kql sample_data      # print the result rows as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import duckdb_kql

RULE_FILE: Final = Path(__file__).resolve().parent.parent / "data" / "rule" / "mfa-rejected-by-user-v2.0.4.txt"

# The rule's 16 output columns, in order (the product's are checked equal in the tests).
OUTPUT_COLUMNS: Final[tuple[str, ...]] = (
    "UserPrincipalName",
    "UserId",
    "AADTenantId",
    "FailedIPAddress",
    "StartTime",
    "EndTIme",
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

# (old, new): the only changes made to the verbatim query, each applied exactly once.
REWRITES: Final[tuple[tuple[str, str], ...]] = (
    # duckdb-kql refuses wildcards in project-away ("unsupported KQL construct 'project-away'").
    # `*1` matches the columns the two leftouter joins renamed for clashing with the left side:
    # UserPrincipalName1 (first join) and FailedIPAddress1, Name1 (second join); nothing else in
    # the joined schema ends in "1".
    ("project-away *1", "project-away UserPrincipalName1, FailedIPAddress1, Name1"),
    # duckdb-kql has only the 2-argument split(). split(s, d, i) is the one-element array
    # [split(s, d)[i]], or [] when i is out of range; [0] of either is split(s, d)[i] or null,
    # which tostring() turns into "" in both spellings.
    ("tostring(split(UserPrincipalName,'@',0)[0])", "tostring(split(UserPrincipalName,'@')[0])"),
    ("tostring(split(UserPrincipalName,'@',1)[0])", "tostring(split(UserPrincipalName,'@')[1])"),
)

# The tables as the workspace types them (Azure Monitor table reference), the columns the query
# names only. One choice: IdentityInfo.Tags is "string" in the reference, but workspaces differ and
# the product reads a JSON array there as an array, so it is loaded as dynamic here.
SCHEMAS: Final[dict[str, dict[str, str]]] = {
    "SigninLogs": {
        "TimeGenerated": "datetime",
        "ResultType": "string",
        "Status": "dynamic",
        "UserPrincipalName": "string",
        "UserId": "string",
        "AADTenantId": "string",
        "IPAddress": "string",
    },
    "IdentityInfo": {
        "TimeGenerated": "datetime",
        "AccountUPN": "string",
        "Tags": "dynamic",
        "JobTitle": "string",
        "GroupMembership": "dynamic",
        "AssignedRoles": "dynamic",
        "UserType": "string",
        "IsAccountEnabled": "bool",
    },
    "BehaviorAnalytics": {
        "TimeGenerated": "datetime",
        "ActivityType": "string",
        "SourceIPAddress": "string",
        "UserName": "string",
        "InvestigationPriority": "int",
        "UsersInsights": "dynamic",
        "DevicesInsights": "dynamic",
        "ActivityInsights": "dynamic",
    },
}

MAX_OBJECT_BYTES: Final = 2**31 - 1


def verbatim_query(rule_text: str | None = None) -> str:
    """The query exactly as the rule file holds it."""
    text = RULE_FILE.read_text(encoding="utf-8") if rule_text is None else rule_text
    start = text.index("query: |\n") + len("query: |\n")
    return text[start : text.index("\nentityMappings:", start)]


def runnable_query(rule_text: str | None = None) -> str:
    """The verbatim query with ``REWRITES`` applied; each must occur exactly once."""
    query = verbatim_query(rule_text)
    for old, new in REWRITES:
        count = query.count(old)
        if count != 1:
            raise ValueError(f"rewrite {old!r} occurs {count} times in the rule's query, not once")
        query = query.replace(old, new)
    return query


# --- loading: ingestion of a jsonl cell into a column of the workspace type ----------------------


def _cell(kind: str, cell: str) -> str:
    """SQL for the value a JSON cell takes in a column of ``kind``, as ingestion gives it."""
    text = f"({cell} ->> '$')"
    is_null = f"({cell} IS NULL OR json_type({cell}) = 'NULL')"
    if kind == "string":  # never null; a number or an object gives its JSON text
        return (
            f"CASE WHEN {is_null} THEN '' WHEN json_type({cell}) = 'VARCHAR' THEN {text} "
            f"ELSE CAST({cell} AS VARCHAR) END"
        )
    if kind == "datetime":
        return f"CAST(CAST(nullif(trim({text}), '') AS TIMESTAMPTZ) AS TIMESTAMP)"
    if kind in ("int", "long"):
        return f"CAST({cell} AS BIGINT)"
    if kind == "bool":
        return f"CAST({cell} AS BOOLEAN)"
    if kind == "dynamic":  # JSON text given for a dynamic column is parsed; other text stays a string
        return (
            f"CASE WHEN {is_null} THEN NULL WHEN json_type({cell}) = 'VARCHAR' AND json_valid({text}) "
            f"THEN CAST({text} AS JSON) ELSE {cell} END"
        )
    raise ValueError(kind)


_SQL_TYPES: Final = {"string": "VARCHAR", "datetime": "TIMESTAMP", "int": "INTEGER", "long": "BIGINT"}
_SQL_TYPES |= {"bool": "BOOLEAN", "dynamic": "JSON"}


def _naive_utc(moment: datetime) -> str:
    return (moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment).isoformat()


def connect(
    directory: Path | str, *, start: datetime | None = None, end: datetime | None = None
) -> duckdb.DuckDBPyConnection:
    """A duckdb-kql connection holding the three tables from ``directory/<Table>.jsonl``, bounded
    to TimeGenerated in ``[start, end)`` when given."""
    con = duckdb_kql.connect()
    con.execute("SET TimeZone = 'UTC'")
    bounds = []
    if start is not None:
        bounds.append(f"TimeGenerated >= TIMESTAMP '{_naive_utc(start)}'")
    if end is not None:
        bounds.append(f"TimeGenerated < TIMESTAMP '{_naive_utc(end)}'")
    where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
    for table, columns in SCHEMAS.items():
        path = Path(directory) / f"{table}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no {table} file")
        spec = ", ".join(f"'{name}': 'JSON'" for name in columns)
        source = (
            f"read_json('{str(path).replace(chr(39), chr(39) * 2)}', format='newline_delimited', "
            f"columns={{{spec}}}, maximum_object_size={MAX_OBJECT_BYTES})"
        )
        fields = ", ".join(
            f'CAST({_cell(kind, chr(34) + name + chr(34))} AS {_SQL_TYPES[kind]}) AS "{name}"'
            for name, kind in columns.items()
        )
        con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM (SELECT {fields} FROM {source}){where}')
    return con


# --- the result ---------------------------------------------------------------------------------


def _element_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


def sort_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The rule sorts by UEBARiskScore desc only; ties are broken here for deterministic output."""
    return (-row["UEBARiskScore"], row["UserPrincipalName"], row["FailedIPAddress"], row["AccountUPN"])


def normalise(columns: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """duckdb-kql's result in the shape the other implementations give, the one place its known
    differences from Kusto (and representation differences from Python) are absorbed:

    1. Strings: duckdb-kql gives NULL where Kusto gives "" (a string column of an unmatched
       leftouter join row, e.g. AccountUPN); Kusto strings are never null, so NULL -> "".
    2. Datetimes: DuckDB TIMESTAMPs come back naive; they are UTC, so they get tzinfo=UTC.
    3. Dynamic (JSON) columns come back as JSON text: parsed into lists (NULL stays None).
    4. make_set's element order is undefined in Kusto (duckdb-kql gives its own): the elements
       are sorted by their JSON text.
    5. Types: InvestigationPriority is int (DuckDB INTEGER) -> Python int either way; anything
       else is checked, not converted: an unknown column type raises.
    6. Row order: the rule sorts by UEBARiskScore only; ties are ordered by ``sort_key``.
    """
    if tuple(columns) != OUTPUT_COLUMNS:
        raise ValueError(f"duckdb-kql gave the columns {list(columns)}, not the rule's 16")
    out = []
    for values in rows:
        row: dict[str, Any] = {}
        for name, kind, value in zip(columns, types, values, strict=True):
            if kind == "VARCHAR":
                row[name] = "" if value is None else value
            elif kind == "TIMESTAMP":
                row[name] = None if value is None else value.replace(tzinfo=UTC)
            elif kind == "JSON":
                row[name] = None if value is None else sorted(json.loads(value), key=_element_key)
            elif kind in ("INTEGER", "BIGINT"):
                row[name] = value
            else:
                raise ValueError(f"column {name}: unexpected type {kind}")
        out.append(row)
    return sorted(out, key=sort_key)


def run_rule(
    directory: Path | str,
    *,
    fmt: str = "jsonl",
    cutoff: int = 3,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    """The rule's rows on ``directory/<Table>.jsonl`` (the 16 columns, ``normalise``d).

    ``cutoff`` other than the rule's 3 is given by replacing the rule's own ``let`` (a parameter of
    the port, not a rewrite of the rule).
    """
    if fmt != "jsonl":
        raise ValueError(f"the verbatim KQL oracle reads jsonl only, not {fmt!r}")
    query = runnable_query()
    let = "let riskScoreCutoff = 3;"
    if cutoff != 3:
        query = query.replace(let, f"let riskScoreCutoff = {int(cutoff)};", 1)
    con = connect(directory, start=start, end=end)
    try:
        relation = duckdb_kql.query(con, query)
        return normalise(relation.columns, [str(t) for t in relation.types], relation.fetchall())
    finally:
        con.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.oracle.verbatim_kql", description=__doc__.splitlines()[0])
    p.add_argument("directory", type=Path, help="directory holding SigninLogs/IdentityInfo/BehaviorAnalytics.jsonl")
    p.add_argument("--cutoff", type=int, default=3, help="riskScoreCutoff (default 3)")
    args = p.parse_args(argv)
    rows = run_rule(args.directory, cutoff=args.cutoff)
    for row in rows:
        for column in ("StartTime", "EndTIme"):
            if row[column] is not None:
                row[column] = row[column].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
