"""The records of a CSV export (``<Table>.csv``, as the Azure portal writes one): a header line of
column names (a time zone suffix such as " [UTC]" dropped), then one record per line."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from shared.errors import InputError
from shared.sources import fixture_files
from shared.sources.fixture_files import UNDECODABLE, Counter, RawRecord, check_columns, not_utf8, open_text

# The portal suffixes time columns with their zone: "TimeGenerated [UTC]".
_HEADER_SUFFIX = re.compile(r"\s*\[[^\]]*\]\s*$")


def _csv_lines(path: Path, stream: TextIO) -> Iterator[str]:
    """The lines of a CSV file as ``csv.reader`` counts them; InputError at the first byte that is
    not UTF-8 (the stream decodes with surrogateescape, so that the line is known)."""
    for number, line in enumerate(stream, 1):
        bad = UNDECODABLE.search(line)
        if bad is not None:
            raise InputError(f"{path}: line {number}: {not_utf8(ord(bad.group()) - 0xDC00)}")
        yield line


def csv_records(path: Path, table: str, counter: Counter) -> Iterator[RawRecord]:
    """Every record of a CSV export, with its line (as ``csv.reader`` counts lines); blank lines skipped."""
    # The csv module refuses a field over 128 KB unless told otherwise (a process-wide setting); a
    # portal export's cell may be longer (ConditionalAccessPolicies in a tenant with many policies),
    # up to what a record holds.
    if csv.field_size_limit() < fixture_files.MAX_RECORD_CHARS:
        csv.field_size_limit(fixture_files.MAX_RECORD_CHARS)
    with open_text(path) as stream:
        reader = csv.reader(_csv_lines(path, stream), strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: empty file (expected a CSV header line)")
            names = [_HEADER_SUFFIX.sub("", name.lstrip("\ufeff")).strip() for name in header]
            check_columns(path, table, names)
            for values in reader:
                if not values or values == [""]:
                    continue
                counter.rows += 1
                if len(values) != len(names):
                    raise InputError(
                        f"{path}: line {reader.line_num}: {len(values)} fields, the header has {len(names)}"
                    )
                yield f"line {reader.line_num}", dict(zip(names, values, strict=True))
        except csv.Error as error:
            raise InputError(f"{path}: line {reader.line_num}: invalid CSV: {error}") from None
