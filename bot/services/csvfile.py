"""The service directory as a spreadsheet: CSV rows to and from the entries of services.yml.

One row per service under a header naming the columns: the fields of services.yml, with
`coordinates` as two columns `latitude` and `longitude`. `kind`, `phones` and `languages`
separate their values with `;`; `verified` and `enforcement` are true/false, yes/no or
oui/non; an empty cell is null (for `enforcement`: false).

Reading only turns cells into the mapping the YAML loader would see, with the CSV line as
its line; `directory.parse_entries` validates it, so a CSV passes exactly the rules a
services file does.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from bot.services.directory import FIELDS, Service, as_entry
from bot.yamlfile import LINE_KEY, ContentError

LIST_SEPARATOR = ";"
COORDINATES = {"latitude": "lat", "longitude": "lon"}
COLUMNS: tuple[str, ...] = tuple(
    column
    for field in FIELDS
    for column in (tuple(COORDINATES) if field == "coordinates" else (field,))
)
"""The columns an export writes, in this order; an import takes any subset, in any order."""

BOOLEANS = {"true": True, "yes": True, "oui": True, "false": False, "no": False, "non": False}

# French Excel writes dates as 23/11/2026 and decimals as 12,6392.
_FRENCH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _list(cell: str) -> list[str]:
    return [item.strip() for item in cell.split(LIST_SEPARATOR) if item.strip()]


def _boolean(cell: str) -> bool | str:
    """The boolean, or the cell itself for the validator to refuse ("must be true or false")."""
    return BOOLEANS.get(cell.lower(), cell)


def _date(cell: str) -> str:
    french = _FRENCH_DATE.match(cell)
    if french is None:
        return cell
    day, month, year = french.groups()
    return f"{year}-{int(month):02}-{int(day):02}"


def _number(cell: str) -> float | str:
    """The number, or the cell itself for the validator to refuse ("must be a number")."""
    try:
        return float(cell.replace(",", "."))
    except ValueError:
        return cell


CELLS: dict[str, Callable[[str], Any]] = {
    "kind": _list,
    "phones": _list,
    "languages": _list,
    "verified": _boolean,
    "enforcement": _boolean,
    "verified_on": _date,
}
"""How a non-empty cell becomes the value the YAML loader would read; others stay text."""


def _entry(row: dict[str, str], line: int) -> dict[str, Any]:
    """The services.yml mapping for one row (cells stripped, as YAML strips plain values);
    empty cells are left out, as null would be."""
    row = {column: cell.strip() for column, cell in row.items()}
    entry: dict[str, Any] = {
        column: CELLS.get(column, str)(cell)
        for column, cell in row.items()
        if column not in COORDINATES and cell
    }
    if any(row.get(column) for column in COORDINATES):
        # One of the two given: the other is reported missing (coordinates.lon: a number).
        entry["coordinates"] = {
            key: _number(row.get(column, "")) for column, key in COORDINATES.items()
        } | {LINE_KEY: line}
    return entry | {LINE_KEY: line}


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ContentError(
            path, line, "encoding", "not UTF-8: save the sheet as « CSV UTF-8 »"
        ) from None


def read_entries(path: Path) -> tuple[list[dict[str, Any]], list[ContentError]]:
    """The entries of the CSV file at `path` (blank rows skipped), and the rows that are not
    even a table: more cells than columns. The header's own problems (an unknown or repeated
    column) are raised: no row can be read right under it."""
    text = _decode(path)
    header_line = text.split("\n", 1)[0]
    if not header_line.strip():
        raise ContentError(path, 1, "header", "missing: the first line names the columns")
    # Column names hold neither `;` nor `,`: the one in the header is the delimiter
    # (`;` from French Excel, `,` elsewhere).
    delimiter = ";" if ";" in header_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip() for name in next(reader)]
    for index, name in enumerate(header):
        if name not in COLUMNS:
            raise ContentError(path, 1, name, f"unknown column (known: {', '.join(COLUMNS)})")
        if name in header[:index]:
            raise ContentError(path, 1, name, "column named twice")
    entries: list[dict[str, Any]] = []
    errors: list[ContentError] = []
    line = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            if len(cells) > len(header):
                errors.append(
                    ContentError(
                        path,
                        line,
                        "row",
                        f"{len(cells)} cells for {len(header)} columns: quote a cell that "
                        f"holds a {delimiter!r}",
                    )
                )
            else:  # a short row (trailing empty cells dropped) leaves the rest empty
                entries.append(_entry(dict(zip(header, cells, strict=False)), line))
        line = reader.line_num + 1  # a quoted cell may span lines
    return entries, errors


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return f"{LIST_SEPARATOR} ".join(value)
    return str(value)


def write_rows(services: Iterable[Service], out: TextIO, delimiter: str = ",") -> None:
    """Write `services` as CSV with every column; `read_entries` reads them back."""
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(COLUMNS)
    for service in services:
        entry = as_entry(service)
        coordinates = entry.pop("coordinates") or {}
        cells = entry | {column: coordinates.get(key) for column, key in COORDINATES.items()}
        writer.writerow(_cell(cells.get(column)) for column in COLUMNS)
