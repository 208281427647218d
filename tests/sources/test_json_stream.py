"""The streamed reading of ``.json`` files reads exactly what ``json.loads`` reads of the whole file,
whatever the size of the pieces it reads: the same records, and for a broken file the same error at
the same line and column (where the error is inside a record or in the array around them)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import InputError
from shared.sources import json_stream
from shared.sources.fixtures import read_records

text = st.text(st.one_of(st.characters(), st.sampled_from(["\ud800", "\udfff", "\x00", '"', "\\", "\n"])), max_size=8)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), text)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)
records = st.lists(
    st.dictionaries(text, values, max_size=4).map(lambda r: {"AccountUPN": "x", "TimeGenerated": ""} | r), max_size=6
)


def _outcome(path: Path, piece: int) -> Any:
    saved = json_stream._PIECE_CHARS
    json_stream._PIECE_CHARS = piece
    try:
        return [record for _, record in read_records(path, "IdentityInfo")]
    except InputError as error:
        return str(error).replace(f"{path}: ", "")
    finally:
        json_stream._PIECE_CHARS = saved


def _reference(data: bytes) -> Any:
    try:
        loaded = json.loads(data.decode("utf-8"))
    except json.JSONDecodeError as error:
        return f"line {error.lineno}: invalid JSON: {error.msg} (column {error.colno})"
    return loaded


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records, st.sampled_from([None, 0, 2]), st.sampled_from([1, 2, 7, 64, 1 << 20]), st.data())
def test_the_streamed_reader_reads_what_json_loads_reads(
    rows: list[dict[str, Any]], indent: int | None, piece: int, data: st.DataObject
) -> None:
    written = json.dumps(rows, indent=indent).encode()
    # Sometimes break it: cut it short, or drop or double one character.
    damage = data.draw(st.sampled_from(["none", "cut", "drop", "double"]))
    if damage != "none" and len(written) > 2:
        at = data.draw(st.integers(1, len(written) - 1))
        written = {
            "cut": written[:at],
            "drop": written[:at] + written[at + 1 :],
            "double": written[:at] + written[at - 1 :],
        }[damage]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "IdentityInfo.json"
        path.write_bytes(written)
        got = _outcome(path, piece)
    expected = _reference(written)
    if isinstance(expected, str) and isinstance(got, str) and got.startswith("line ") and "invalid JSON" in got:
        assert got == expected  # the same syntax error, at the same line and column
    elif isinstance(expected, str):
        # Streaming, a record that is no object (or the first one's missing columns) may be found
        # before a syntax error further on; either way the file is refused.
        assert isinstance(got, str)
    elif _readable(expected):
        assert got == expected
    else:
        assert isinstance(got, str)  # valid JSON, but not an array of records with the columns


def _readable(loaded: Any) -> bool:
    return (
        isinstance(loaded, list)
        and all(isinstance(record, dict) for record in loaded)
        and (not loaded or {"AccountUPN", "TimeGenerated"} <= set(loaded[0]))
    )


@pytest.mark.parametrize("piece", [1, 3, 1 << 20])
def test_line_and_column_across_pieces(tmp_path: Path, piece: int) -> None:
    path = tmp_path / "IdentityInfo.json"
    path.write_text('[\n  {"AccountUPN": "a", "TimeGenerated": ""},\n\n     {"AccountUPN": tru}\n]')
    assert _outcome(path, piece) == "line 4: invalid JSON: Expecting value (column 21)"
