"""Values from data can never crash or wedge anything: every C0 control, DEL, NUL and lone surrogates in
every string column of every fixture format are read as data, and a planted rejected-MFA sign-in
carrying them gives exactly the row the rule defines, through the fixture reader (both paths),
``detect``, the command line's JSON and table output (in-process and through a real pipe) and,
where DuckDB can hold the values, the SQL oracle.

The expected rows are written out here from the rule's semantics (``tolower`` of the UPN, ``Name``
and ``UPNSuffix`` the parts around the first "@", the IdentityInfo and UEBA rows joined on the exact
values), not computed by ``detect``. The writers of the five formats are this file's own.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.cli import main, render_table
from shared.detection import detect
from shared.models import OUTPUT_COLUMNS, ReadRequest, Window
from shared.serialise import jsonable
from shared.sources.fixtures import FixtureSource
from tests.builders import DECLINED
from tests.oracle.sql_port import run_rule

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
HOUR = Window(T0, T0 + timedelta(hours=1))

CONTROLS = [chr(code) for code in range(0x20)] + ["\x7f"]
# Lone surrogates, as JSON's "\ud800" escapes give them (a high one directly before a low one is
# not lone: JSON text would read the pair as one character).
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\udc00\ud800", "\ud800\ud800"]
# Not controls, but what a terminal or a narrow encoding may trip on: C1, the line and paragraph
# separators, a bidirectional override, and text beyond ASCII (beyond the BMP too).
OTHERS = ["\x85", "\x9b", "\u2028", "\u2029", "\u202e", "é", "日本", "😀"]
HOSTILE = CONTROLS + SURROGATES + OTHERS
FORMATS = ["jsonl", "json", "azjson", "api", "csv"]
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


@dataclass(frozen=True)
class Case:
    """One planted rejected-MFA sign-in whose every string carries ``c``, with its enrichment, its
    UEBA row, decoys that must not match, and the result row the rule defines for it."""

    index: int
    c: str

    @property
    def upn(self) -> str:
        return f"User{self.index}{self.c}X@Dom{self.c}{self.index}.example"

    @property
    def upn_lower(self) -> str:  # tolower(UserPrincipalName): only ASCII letters change
        return f"user{self.index}{self.c}x@dom{self.c}{self.index}.example"

    @property
    def name(self) -> str:  # Name = tostring(split(UserPrincipalName, '@', 0)[0]), of the lower-cased UPN
        return f"user{self.index}{self.c}x"

    @property
    def suffix(self) -> str:  # UPNSuffix = tostring(split(UserPrincipalName, '@', 1)[0])
        return f"dom{self.c}{self.index}.example"

    @property
    def ip(self) -> str:
        return f"198.51.{self.index}.{self.c}7"

    @property
    def score(self) -> int:
        return 4 + self.index % 6

    def signins(self) -> list[dict[str, Any]]:
        # "has": the term must stand between characters that are not letters or digits ("日" is one).
        fraud_is_a_term = not any(ch.isalnum() for ch in self.c)
        details = f"MFA denied;{self.c}fraud{self.c}reported" if self.index % 2 and fraud_is_a_term else DECLINED
        row = {
            "TimeGenerated": T0 + timedelta(minutes=5),
            "ResultType": "500121",
            "Status": {"errorCode": 500121, "additionalDetails": details, "note": f"n{self.c}"},
            "UserPrincipalName": self.upn,
            "UserId": f"id-{self.index}{self.c}",
            "AADTenantId": f"tenant{self.c}{self.index}",
            "IPAddress": self.ip,
            "AppDisplayName": f"app{self.c}",  # a column the rule does not read
        }
        later = row | {"TimeGenerated": T0 + timedelta(minutes=25), "UserPrincipalName": self.upn.upper()}
        success = row | {"ResultType": "0", "Status": {"errorCode": 0}, "TimeGenerated": T0 + timedelta(minutes=30)}
        return [row, later, success]

    def identities(self) -> list[dict[str, Any]]:
        row = {
            "TimeGenerated": T0 + timedelta(minutes=2),
            "AccountUPN": self.upn,
            "Tags": f"tag{self.c}{self.index}",
            "JobTitle": f"job{self.c}",
            "GroupMembership": [f"grp{self.c}{self.index}"],
            "AssignedRoles": [f"role{self.c}"],
            "UserType": f"Member{self.c}",
            "IsAccountEnabled": True,
        }
        decoy = row | {"AccountUPN": self.upn.replace(self.c, ""), "Tags": "decoy"}
        return [row, decoy]

    def behaviors(self) -> list[dict[str, Any]]:
        row = {
            "TimeGenerated": T0 + timedelta(minutes=1),
            "ActivityType": "LogOn",
            "SourceIPAddress": self.ip,
            "UserName": self.name,
            "InvestigationPriority": self.score,
        }
        decoys = [
            row | {"UserName": self.name.replace(self.c, ""), "InvestigationPriority": 10},
            row | {"SourceIPAddress": self.ip + " ", "InvestigationPriority": 10},
            row | {"ActivityType": f"LogOn{self.c}", "InvestigationPriority": 10},
        ]
        return [row, *decoys]

    def expected(self) -> dict[str, Any]:
        user_type = [f"Member{self.c}"]
        return {
            "UserPrincipalName": self.upn_lower,
            "UserId": f"id-{self.index}{self.c}",
            "AADTenantId": f"tenant{self.c}{self.index}",
            "FailedIPAddress": self.ip,
            "StartTime": T0 + timedelta(minutes=5),
            "EndTIme": T0 + timedelta(minutes=25),
            "Name": self.name,
            "UPNSuffix": self.suffix,
            "AccountUPN": self.upn,
            "Tags": [f"tag{self.c}{self.index}"],
            "GroupMembership": [f"grp{self.c}{self.index}"],
            "AssignedRoles": [f"role{self.c}"],
            "UserType": user_type,
            "UserAccountControl": user_type,
            "MaxInvestigationScore": self.score,
            "UEBARiskScore": self.score,
        }


@dataclass(frozen=True)
class Leading(Case):
    """A case whose UPN, IP and user name *start* with ``c``: for NUL or a lone surrogate, no prefix
    of them can be written into KQL, so the live source's pushdown for their batch is ``true``."""

    @property
    def upn(self) -> str:
        return f"{self.c}Lead{self.index}@X{self.index}.example"

    @property
    def upn_lower(self) -> str:
        return f"{self.c}lead{self.index}@x{self.index}.example"

    @property
    def name(self) -> str:
        return f"{self.c}lead{self.index}"

    @property
    def suffix(self) -> str:
        return f"x{self.index}.example"

    @property
    def ip(self) -> str:
        return f"{self.c}{self.index}"


def cases(characters: Iterable[str]) -> list[Case]:
    return [Case(index, c) for index, c in enumerate(characters)]


def tables_of(planted: list[Case]) -> dict[str, list[dict[str, Any]]]:
    return {
        "SigninLogs": [row for case in planted for row in case.signins()],
        "IdentityInfo": [row for case in planted for row in case.identities()],
        "BehaviorAnalytics": [row for case in planted for row in case.behaviors()],
    }


def by_user(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (dict(row) for row in rows), key=lambda row: row["UserPrincipalName"].encode("utf-8", "surrogatepass")
    )


def expected_rows(planted: list[Case]) -> list[dict[str, Any]]:
    return by_user(case.expected() for case in planted)


# --- this file's own writers of the five formats ------------------------------------------------

TYPES = {
    "TimeGenerated": "datetime",
    "Status": "dynamic",
    "GroupMembership": "dynamic",
    "AssignedRoles": "dynamic",
    "IsAccountEnabled": "bool",
    "InvestigationPriority": "int",
}


def _escape_surrogates(text: str) -> str:
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _native(value: Any) -> Any:
    return _iso(value) if isinstance(value, datetime) else value


def _text(value: Any) -> str:
    # az CLI's all-strings form (also the CSV cells): dynamic as JSON text, bools True/False.
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def write_format(directory: Path, fmt: str, tables: Mapping[str, list[dict[str, Any]]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        records = [{column: _native(value) for column, value in row.items()} for row in rows]
        if fmt == "jsonl":
            # Characters as they are (DEL raw, controls as JSON escapes), lone surrogates escaped.
            text = "".join(_escape_surrogates(json.dumps(record, ensure_ascii=False)) + "\n" for record in records)
            (directory / f"{table}.jsonl").write_text(text, encoding="utf-8", newline="")
        elif fmt == "json":
            (directory / f"{table}.json").write_text(json.dumps(records, indent=1), encoding="utf-8")
        elif fmt == "azjson":
            strings = [{column: _text(value) for column, value in row.items()} | {"TableName": "x"} for row in rows]
            (directory / f"{table}.json").write_text(json.dumps(strings, indent=2), encoding="utf-8")
        elif fmt == "api":
            columns = sorted({column for row in rows for column in row})
            cells = [
                [
                    json.dumps(row.get(c)) if isinstance(row.get(c), (dict, list)) else _native(row.get(c))
                    for c in columns
                ]
                for row in rows
            ]
            body = {
                "tables": [
                    {
                        "name": "PrimaryResult",
                        "columns": [{"name": c, "type": TYPES.get(c, "string")} for c in columns],
                        "rows": cells,
                    }
                ]
            }
            (directory / f"{table}.json").write_text(json.dumps(body), encoding="utf-8")
        else:
            columns = list(dict.fromkeys(column for row in rows for column in row))
            with (directory / f"{table}.csv").open("w", encoding="utf-8", newline="") as stream:
                writer = csv.writer(stream)
                writer.writerow(columns)
                for row in rows:
                    writer.writerow([_text(row.get(c)).replace("True", "TRUE") for c in columns])
    return directory


def characters_for(fmt: str) -> list[str]:
    # A CSV file is UTF-8 text, which cannot hold a lone surrogate (its bytes are not UTF-8).
    return CONTROLS + OTHERS if fmt == "csv" else HOSTILE


def read_and_detect(directory: Path, **options: Any) -> list[dict[str, Any]]:
    tables = FixtureSource(directory, **options).read(ReadRequest.same(HOUR))
    return by_user(detect(tables.signins, tables.identities, tables.behaviors))


# --- the fixture reader and detect ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_hostile_character_in_every_string_column_is_data(tmp_path: Path, fmt: str) -> None:
    planted = cases(characters_for(fmt))
    directory = write_format(tmp_path, fmt, tables_of(planted))
    assert read_and_detect(directory) == expected_rows(planted)


def test_the_fast_path_reads_the_same_rows(tmp_path: Path) -> None:
    # strict=False: lines the raw filters prove irrelevant go unparsed; a raw DEL has no escape, so
    # its lines are judged on their bytes.
    planted = cases(HOSTILE)
    directory = write_format(tmp_path, "jsonl", tables_of(planted))
    assert read_and_detect(directory, strict=False) == expected_rows(planted)
    assert read_and_detect(directory, strict=True) == expected_rows(planted)


def test_lone_surrogates_are_read_as_json_reads_them_not_replaced(tmp_path: Path) -> None:
    planted = cases(SURROGATES)
    for fmt in ("jsonl", "json", "azjson", "api"):
        tables = FixtureSource(write_format(tmp_path / fmt, fmt, tables_of(planted))).read(ReadRequest.same(HOUR))
        upns = sorted(row["UserPrincipalName"] for row in tables.signins)
        assert upns == sorted(upn for case in planted for upn in (case.upn, case.upn.upper())), fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_sql_oracle_agrees_where_duckdb_can_hold_the_values(tmp_path: Path, fmt: str) -> None:
    # DuckDB strings are UTF-8: no lone surrogates. NUL and every other control it holds.
    planted = cases(CONTROLS + OTHERS)
    directory = write_format(tmp_path, fmt, tables_of(planted))
    oracle = by_user(run_rule(directory, fmt=fmt))
    assert oracle == expected_rows(planted)


# --- the command line -------------------------------------------------------------------------


def _expected_json(planted: list[Case]) -> list[dict[str, Any]]:
    return [jsonable(row) for row in expected_rows(planted)]


def test_detect_prints_json_with_every_hostile_value(tmp_path: Path) -> None:
    planted = cases(HOSTILE)
    directory = write_format(tmp_path, "jsonl", tables_of(planted))
    out, err = io.StringIO(), io.StringIO()
    assert main(["detect", "--fixtures", str(directory), "--format", "json"], out=out, err=err) == 0, err.getvalue()
    text = out.getvalue()
    text.encode("utf-8")  # no lone surrogate left in the text: it is written as an escape
    rows = json.loads(text)
    assert [list(row) for row in rows] == [list(OUTPUT_COLUMNS)] * len(planted)
    assert by_user(rows) == _expected_json(planted)


def test_detect_prints_a_table_showing_controls_and_surrogates_as_escapes(tmp_path: Path) -> None:
    planted = cases(HOSTILE)
    directory = write_format(tmp_path, "jsonl", tables_of(planted))
    out = io.StringIO()
    assert main(["detect", "--fixtures", str(directory), "--format", "table"], out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    text.encode("utf-8")
    lines = text.splitlines()
    assert len(lines) == 2 + len(planted) + 1  # header, rule, one line per row, count
    assert f"{len(planted)} row(s)." in lines[-1]
    # Only the line ends are raw.
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202e\ud800-\udfff]", text)
    for escape in ("\\x00", "\\t", "\\n", "\\r", "\\x1b", "\\x7f", "\\x85", "\\u2028", "\\u202e", "\\ud800", "\\udfff"):
        assert escape in text


def test_render_table_escapes_what_would_drive_a_terminal() -> None:
    row = dict.fromkeys(OUTPUT_COLUMNS) | {
        "UserPrincipalName": "a\x1b[2Jb\u202ec\x85d\u2028e",
        "FailedIPAddress": "1.2.3.4",
        "UEBARiskScore": 5,
        "AssignedRoles": ["x\ny", "z\x00"],
    }
    table = render_table([row])
    assert "a\\x1b[2Jb\\u202ec\\x85d\\u2028e" in table
    assert "x\\ny, z\\x00" in table
    assert len(table.splitlines()) == 4


def _run_module(*argv: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "shared", *argv],
        cwd=REPO,
        capture_output=True,
        check=False,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("encoding", [None, "ascii"])
def test_python_dash_m_shared_writes_hostile_rows_to_a_pipe(tmp_path: Path, encoding: str | None) -> None:
    # stdout is a pipe: the real encoding path (UTF-8, or a narrower one such as a Windows code page).
    planted = cases(HOSTILE)
    directory = write_format(tmp_path, "json", tables_of(planted))
    env = {"PYTHONIOENCODING": encoding} if encoding else {}
    result = _run_module("detect", "--fixtures", str(directory), env=env)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    rows = json.loads(result.stdout.decode("ascii" if encoding else "utf-8"))
    assert by_user(rows) == _expected_json(planted)

    table = _run_module("detect", "--fixtures", str(directory), "--format", "table", env=env)
    assert table.returncode == 0, table.stderr.decode("utf-8", "replace")
    text = table.stdout.decode("ascii" if encoding else "utf-8")
    assert len(text.splitlines()) == 2 + len(planted) + 1
