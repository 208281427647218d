"""The five fixture file formats, each a way to spell the same rows.

- ``jsonl``  one JSON object per line (Log Analytics data export): datetimes ISO 8601 with 7 fraction
  digits and ``Z``, dynamic columns as JSON objects/arrays, ints as numbers.
- ``json``   one JSON array of those objects.
- ``azjson`` a JSON array as ``az monitor log-analytics query`` prints it: every value a string
  (dynamic as JSON text, ints as ``"5"``, bools ``"True"``/``"False"``, datetimes ``...:02.123Z``,
  null as ``""``), plus ``"TableName": "PrimaryResult"``.
- ``api``    a Log Analytics query API response ``{"tables":[{"name","columns","rows"}]}``; dynamic
  values as JSON text, datetimes ISO with 7 fraction digits.
- ``csv``    the portal's CSV export: datetime headers carry `` [UTC]``, times are
  ``M/D/YYYY, h:mm:ss.fff AM/PM``, dynamic values JSON text, bools ``TRUE``/``FALSE``, RFC 4180 quoting.

Datetime values are integers: milliseconds since the Unix epoch (UTC). Generated times are whole
milliseconds so that the millisecond formats (csv, azjson) hold exactly the same instants as the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, Final

from tools.tenant.schema import Columns

Encoder = Callable[[Any], str]

FORMATS: Final = ("jsonl", "json", "azjson", "api", "csv")
EXTENSIONS: Final = {"jsonl": "jsonl", "json": "json", "azjson": "json", "api": "json", "csv": "csv"}


class Segment:
    """Values for one ``Columns`` group; its encodings are cached per format unless ``cached=False``."""

    __slots__ = ("cache", "columns", "values")

    def __init__(self, columns: Columns, values: Sequence[Any], *, cached: bool = True) -> None:
        if len(values) != len(columns.names):
            raise ValueError(f"{len(values)} values for columns {columns.names}")
        self.columns = columns
        self.values = tuple(values)
        self.cache: dict[Format, str] | None = {} if cached else None

    def as_dict(self) -> dict[str, Any]:
        return dict(zip(self.columns.names, self.values, strict=True))


# --- value spelling ---------------------------------------------------------------------------


class _Clock:
    """Datetime text from epoch milliseconds: the date-and-hour part is cached, the rest looked up."""

    _SECONDS: Final = tuple(f"{m:02d}:{s:02d}." for m in range(60) for s in range(60))

    def __init__(self) -> None:
        self._hours: dict[int, tuple[str, str, str]] = {}

    def _hour(self, hour: int) -> tuple[str, str, str]:
        parts = self._hours.get(hour)
        if parts is None:
            moment = datetime.fromtimestamp(hour * 3600, tz=UTC)
            twelve = moment.hour % 12 or 12
            parts = (
                moment.strftime("%Y-%m-%dT%H:"),
                f"{moment.month}/{moment.day}/{moment.year}, {twelve}:",
                "AM" if moment.hour < 12 else "PM",
            )
            self._hours[hour] = parts
        return parts

    def speller(self, style: str, *, quoted: bool = False, null: str | None = None) -> Callable[[int | None], str]:
        """A function spelling epoch milliseconds in ``style``: "iso7" (``...T10:15:02.1230000Z``),
        "iso3" (``...T10:15:02.123Z``) or "portal" (``11/28/2026, 9:15:02.123 AM``); None is
        spelled ``null``. One closure per format: this runs for every datetime cell."""
        quote = '"' if quoted else ""
        seconds = self._SECONDS
        hours = self._hours
        hour_parts = self._hour
        if style == "portal":
            millis = tuple(f"{i:03d} " for i in range(1000))

            def portal(ms: int | None) -> str:
                if ms is None:
                    return "" if null is None else null
                hour, rest = divmod(ms, 3_600_000)
                second, milli = divmod(rest, 1000)
                _, prefix, half = hours.get(hour) or hour_parts(hour)
                return quote + prefix + seconds[second] + millis[milli] + half + quote

            return portal
        digits = {"iso7": "0000Z", "iso3": "Z"}[style]
        millis = tuple(f"{i:03d}{digits}{quote}" for i in range(1000))

        def iso(ms: int | None) -> str:
            if ms is None:
                return "" if null is None else null
            hour, rest = divmod(ms, 3_600_000)
            second, milli = divmod(rest, 1000)
            return quote + (hours.get(hour) or hour_parts(hour))[0] + seconds[second] + millis[milli]

        return iso


CLOCK: Final = _Clock()


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dynamic_text(value: Any) -> str:
    """A dynamic value as text, the way Log Analytics returns it: a string bare, anything else JSON."""
    return value if isinstance(value, str) else compact_json(value)


def csv_cell(text: str) -> str:
    """RFC 4180: quote a field holding a comma, quote or line break; double the quotes inside."""
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _string(encode: Encoder, encode_other: Encoder) -> Encoder:
    """A string column: never null (null is written as ""). IdentityInfo.Tags is declared a string
    but many workspaces hold a JSON array there: such a value is written as the format writes
    dynamic values (an array in JSON exports, JSON text elsewhere)."""

    def encoder(value: Any) -> str:
        if isinstance(value, str):
            return encode(value)
        return encode("") if value is None else encode_other(value)

    return encoder


def _nullable(encode: Encoder, null: str) -> Encoder:
    return lambda value: null if value is None else encode(value)


# --- formats ----------------------------------------------------------------------------------


class Format:
    """How one file format spells values, rows and the file around them."""

    name: str = ""
    row_separator: str = ""
    encoders: dict[str, Encoder]

    def __init__(self) -> None:
        self._encoders: dict[Columns, Callable[[Sequence[Any]], str]] = {}

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.name]

    def field_prefix(self, name: str) -> str:
        return encode_basestring(name) + ":"

    def file_start(self, table: str, columns: Columns) -> str:
        return ""

    def file_end(self) -> str:
        return ""

    def row(self, parts: list[str]) -> str:
        return "{" + ",".join(parts) + "}"

    def _compile(self, columns: Columns) -> Callable[[Sequence[Any]], str]:
        """A function encoding one segment's values: its fields, comma-separated.

        Compiled once per segment kind (like ``collections.namedtuple`` does) into a single
        ``template % (...)`` expression: segments made per row (times, ids) are the hot path.
        """
        prefixes = [self.field_prefix(name).replace("%", "%%") for name in columns.names]
        template = ",".join(prefix + "%s" for prefix in prefixes)
        scope: dict[str, Any] = {"T": template}
        calls = []
        for index, kind in enumerate(columns.kinds):
            scope[f"e{index}"] = self.encoders[kind]
            calls.append(f"e{index}(v[{index}])")
        return eval("lambda v: T % (" + ", ".join(calls) + ",)", scope)

    def encode(self, columns: Columns, values: Sequence[Any]) -> str:
        encoder = self._encoders.get(columns)
        if encoder is None:
            encoder = self._encoders[columns] = self._compile(columns)
        return encoder(values)

    def render(self, segments: Sequence[Segment]) -> str:
        parts: list[str] = []
        for segment in segments:
            cache = segment.cache
            if cache is None:
                parts.append(self.encode(segment.columns, segment.values))
                continue
            text = cache.get(self)
            if text is None:
                text = cache[self] = self.encode(segment.columns, segment.values)
            parts.append(text)
        return self.row(parts)


def _quoted(text_of: Callable[[Any], str]) -> Encoder:
    return lambda value: '"' + text_of(value) + '"'


class JsonLinesFormat(Format):
    name = "jsonl"

    def __init__(self) -> None:
        super().__init__()
        self.encoders = {
            "string": _string(encode_basestring, compact_json),
            "guid": _nullable(encode_basestring, "null"),
            "datetime": CLOCK.speller("iso7", quoted=True, null="null"),
            "int": _nullable(str, "null"),
            "long": _nullable(str, "null"),
            "real": _nullable(repr, "null"),
            "bool": _nullable(lambda value: "true" if value else "false", "null"),
            "dynamic": _nullable(compact_json, "null"),
        }

    def row(self, parts: list[str]) -> str:
        return "{" + ",".join(parts) + "}\n"


class JsonArrayFormat(JsonLinesFormat):
    name = "json"
    row_separator = ",\n"

    def file_start(self, table: str, columns: Columns) -> str:
        return "[\n"

    def file_end(self) -> str:
        return "\n]\n"

    def row(self, parts: list[str]) -> str:
        return "{" + ",".join(parts) + "}"


class AzCliFormat(JsonArrayFormat):
    name = "azjson"

    def __init__(self) -> None:
        super().__init__()
        text = encode_basestring
        self.encoders = {
            "string": _string(text, lambda value: text(compact_json(value))),
            "guid": _nullable(text, '""'),
            "datetime": CLOCK.speller("iso3", quoted=True, null='""'),
            "int": _nullable(_quoted(str), '""'),
            "long": _nullable(_quoted(str), '""'),
            "real": _nullable(_quoted(repr), '""'),
            "bool": _nullable(lambda value: '"True"' if value else '"False"', '""'),
            "dynamic": _nullable(lambda value: text(dynamic_text(value)), '""'),
        }

    def row(self, parts: list[str]) -> str:
        return "{" + ",".join(parts) + ',"TableName":"PrimaryResult"}'


class ApiFormat(Format):
    name = "api"
    row_separator = ",\n"

    def __init__(self) -> None:
        super().__init__()
        text = encode_basestring
        self.encoders = {
            "string": _string(text, lambda value: text(compact_json(value))),
            "guid": _nullable(text, "null"),
            "datetime": CLOCK.speller("iso7", quoted=True, null="null"),
            "int": _nullable(str, "null"),
            "long": _nullable(str, "null"),
            "real": _nullable(repr, "null"),
            "bool": _nullable(lambda value: "true" if value else "false", "null"),
            "dynamic": _nullable(lambda value: text(dynamic_text(value)), "null"),
        }

    def field_prefix(self, name: str) -> str:
        return ""

    def file_start(self, table: str, columns: Columns) -> str:
        described = [{"name": name, "type": kind} for name, kind in zip(columns.names, columns.kinds, strict=True)]
        return '{"tables":[{"name":"PrimaryResult","columns":' + compact_json(described) + ',"rows":[\n'

    def file_end(self) -> str:
        return "\n]}]}\n"

    def row(self, parts: list[str]) -> str:
        return "[" + ",".join(parts) + "]"


class PortalCsvFormat(Format):
    name = "csv"

    def __init__(self) -> None:
        super().__init__()
        self.encoders = {
            "string": _string(csv_cell, lambda value: csv_cell(compact_json(value))),
            "guid": _nullable(csv_cell, ""),
            "datetime": CLOCK.speller("portal", quoted=True, null=""),
            "int": _nullable(str, ""),
            "long": _nullable(str, ""),
            "real": _nullable(repr, ""),
            "bool": _nullable(lambda value: "TRUE" if value else "FALSE", ""),
            "dynamic": _nullable(lambda value: csv_cell(dynamic_text(value)), ""),
        }

    def field_prefix(self, name: str) -> str:
        return ""

    def file_start(self, table: str, columns: Columns) -> str:
        headers = [
            csv_cell(f"{name} [UTC]" if kind == "datetime" else name)
            for name, kind in zip(columns.names, columns.kinds, strict=True)
        ]
        return ",".join(headers) + "\n"

    def row(self, parts: list[str]) -> str:
        return ",".join(parts) + "\n"


def format_named(name: str) -> Format:
    makers: dict[str, Callable[[], Format]] = {
        "jsonl": JsonLinesFormat,
        "json": JsonArrayFormat,
        "azjson": AzCliFormat,
        "api": ApiFormat,
        "csv": PortalCsvFormat,
    }
    if name not in makers:
        raise ValueError(f"unknown format {name!r}; expected one of {', '.join(FORMATS)}")
    return makers[name]()
