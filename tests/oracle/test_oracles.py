"""The oracles themselves: their column names are the product's, they import nothing from it, the
verbatim KQL is changed only by its listed rewrites, and both give the bundled expected rows."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb_kql
import pytest
from duckdb_kql.errors import KqlError

from shared.models import OUTPUT_COLUMNS
from tests.oracle import files, sql_port, verbatim_kql
from tests.oracle.sql_port import to_json_rows

ORACLE_DIR = Path(verbatim_kql.__file__).resolve().parent
SAMPLE_DIR = ORACLE_DIR.parent.parent / "sample_data"


@pytest.mark.parametrize("oracle", [sql_port, verbatim_kql], ids=["sql", "kql"])
def test_each_oracle_names_the_products_16_output_columns(oracle) -> None:
    assert oracle.OUTPUT_COLUMNS == OUTPUT_COLUMNS


@pytest.mark.parametrize("module", [sql_port, verbatim_kql, files], ids=["sql_port", "verbatim_kql", "files"])
def test_no_oracle_imports_the_product(module) -> None:
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = [
        name
        for node in ast.walk(tree)
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    ]
    assert not [name for name in imported if name == "shared" or name.startswith("shared.")]


def test_each_rewrite_applies_exactly_once_to_the_verbatim_query() -> None:
    query = verbatim_kql.verbatim_query()
    assert query.startswith("let riskScoreCutoff = 3;")
    assert query.rstrip().endswith("| sort by UEBARiskScore desc")
    for old, _ in verbatim_kql.REWRITES:
        assert query.count(old) == 1, old
    runnable = verbatim_kql.runnable_query()
    assert runnable != query
    # Nothing else changed: undoing the rewrites gives the verbatim text back.
    for old, new in verbatim_kql.REWRITES:
        runnable = runnable.replace(new, old)
    assert runnable == query


def test_a_rewrite_that_does_not_apply_once_is_refused() -> None:
    text = (verbatim_kql.RULE_FILE).read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="occurs 0 times"):
        verbatim_kql.runnable_query(text.replace("project-away *1", "project-away *2"))
    with pytest.raises(ValueError, match="occurs 2 times"):
        verbatim_kql.runnable_query(text.replace("| sort by", "| project-away *1 | sort by"))


def test_the_verbatim_query_without_the_rewrites_is_refused_by_duckdb_kql(tmp_path: Path) -> None:
    # Why the rewrites exist: duckdb-kql refuses the rule as written.
    directory = files.write_tables(tmp_path)
    con = verbatim_kql.connect(directory)
    try:
        with pytest.raises(KqlError, match="project-away"):
            duckdb_kql.query(con, verbatim_kql.verbatim_query())
    finally:
        con.close()


def test_normalise_lists_and_absorbs_each_known_difference() -> None:
    types = ["VARCHAR"] * 4 + ["TIMESTAMP"] * 2 + ["VARCHAR"] * 3 + ["JSON"] * 5 + ["INTEGER"] * 2
    moment = datetime(2026, 11, 28, 9, 10)
    values = ["u", "i", "t", "ip", moment, moment, "n", "s", None, '["b","a"]', None, "[]", '["M"]', '["M"]', 7, 7]
    (row,) = verbatim_kql.normalise(OUTPUT_COLUMNS, types, [values])
    assert row["AccountUPN"] == ""
    assert row["StartTime"] == moment.replace(tzinfo=UTC)
    assert (row["Tags"], row["GroupMembership"], row["AssignedRoles"]) == (["a", "b"], None, [])
    with pytest.raises(ValueError, match="unexpected type"):
        verbatim_kql.normalise(OUTPUT_COLUMNS, [*types[:-1], "DOUBLE"], [values])


@pytest.mark.parametrize("oracle", [sql_port, verbatim_kql], ids=["sql", "kql"])
def test_each_oracle_gives_the_bundled_expected_rows(oracle) -> None:
    expected = json.loads((SAMPLE_DIR / "expected.json").read_text(encoding="utf-8"))
    fresh = to_json_rows(oracle.run_rule(SAMPLE_DIR))
    assert sorted(json.dumps(r, sort_keys=True) for r in fresh) == sorted(
        json.dumps(r, sort_keys=True) for r in expected
    )


def test_json_written_by_the_oracles_survives_a_lone_surrogate(tmp_path: Path) -> None:
    value = {"a": "\ud800x\u00e9"}
    assert json.loads(files.json_line(value)) == value
    files.json_line(value).encode("utf-8")
    text = sql_port.json_text([value], indent=2)
    assert json.loads(text) == [value]
    text.encode("utf-8")
