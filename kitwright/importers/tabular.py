"""Read a CSV or XLSX file as rows of named cells, streaming, naming every problem.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is
row 2, and blank rows still count (they are skipped, not renumbered). Columns are named by
their canonical name; headers match case-insensitively, ignoring surrounding spaces and
treating spaces, dots and hyphens as underscores, and a column may accept other names (the
ones ION's own templates use, docs/importers.md).

Nothing here holds the whole file: CSV is decoded and split as it is read; XLSX is opened
with openpyxl's read-only mode, which parses the sheet's XML as it goes.

A problem with the file as a whole (empty, binary, wrong encoding, several sheets, merged
cells, missing headers) is added to `problems` and ends the reading; a problem with one cell
(a formula, an error value) is added and that row is left out, so that every such cell is
reported at once.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from kitwright.domain.errors import Problems

MAX_ROWS = 200_000  # data rows in one file (docs/importers.md)
MAX_CELL_CHARS = 10_000
MAX_COLUMNS = 200
_SNIFF_BYTES = 64 * 1024
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# progress(done, total): units read so far (bytes for CSV, rows for XLSX) and the expected
# total when known.
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Column:
    """A column an importer reads. `aliases` are other header names meaning the same."""

    name: str
    required: bool = True
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet shows it (header = 1)
    values: dict[str, Any]  # canonical column name -> cell value (None when blank)


def header_key(text: str) -> str:
    """'Part Number ' -> 'part_number'; 'Kit-ID' -> 'kit_id'."""
    key = re.sub(r"[\s.\-/]+", "_", text.replace("\ufeff", "").strip().lower())
    return key.strip("_")


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (as a spreadsheet labels columns)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class Table:
    """One file opened for reading; iterate `rows()` once.

    `format` is "csv" or "xlsx"; `columns` is what the header row mapped (canonical name ->
    position). Problems go into `problems`; reading stops at the first file-level one.
    """

    def __init__(
        self,
        source: IO[bytes],
        columns: Sequence[Column],
        problems: Problems,
        *,
        filename: str | None = None,
        max_rows: int = MAX_ROWS,
        progress: Progress | None = None,
    ) -> None:
        self.source = _seekable(source)
        self.spec = list(columns)
        self.problems = problems
        self.filename = filename or ""
        self.max_rows = max_rows
        self.progress = progress
        self.format = self._detect()
        self.columns: dict[str, int] = {}
        self.headers: list[str] = []

    # -- format -------------------------------------------------------------------------
    def _detect(self) -> str | None:
        head = self.source.read(8)
        self.source.seek(0)
        name = self.filename.lower()
        if not head:
            self.problems.add("the file is empty: it needs a header row and at least one data row", row=1)
            return None
        if head.startswith(_XLSX_MAGIC):
            return "xlsx"
        if head.startswith(_XLS_MAGIC) or name.endswith(".xls"):
            self.problems.add(
                "old-style .xls workbooks are not read; save the sheet as .xlsx or CSV (UTF-8)", row=1
            )
            return None
        if name.endswith((".xlsx", ".xlsm")):
            self.problems.add("the file is named .xlsx but is not an XLSX workbook", row=1)
            return None
        return "csv"

    def rows(self) -> Iterator[Row]:
        if self.format == "csv":
            yield from self._csv_rows()
        elif self.format == "xlsx":
            yield from self._xlsx_rows()

    # -- header -------------------------------------------------------------------------
    def _map_header(self, cells: Sequence[Any]) -> bool:
        """Map header cells to columns; False (with problems added) when unusable."""
        names = {header_key(c.name): c.name for c in self.spec}
        for column in self.spec:
            for alias in column.aliases:
                names.setdefault(header_key(alias), column.name)
        texts = ["" if cell is None else str(cell) for cell in cells]
        while texts and not texts[-1].strip():
            texts.pop()
        if not texts:
            self.problems.add(
                "the header row is empty; the first row must name the columns: "
                + ", ".join(c.name for c in self.spec),
                row=1,
            )
            return False
        if len(texts) > MAX_COLUMNS:
            self.problems.add(f"more than {MAX_COLUMNS} columns", row=1)
            return False
        ok = True
        for index, text in enumerate(texts):
            letter = column_letter(index)
            if not text.strip():
                continue  # an unnamed column is ignored when it stays empty (checked per row)
            name = names.get(header_key(text))
            if name is None:
                self.problems.add(
                    f"unknown column {text.strip()[:60]!r}; the columns are "
                    + ", ".join(c.name for c in self.spec),
                    row=1, column=letter,
                )
                ok = False
            elif name in self.columns:
                self.problems.add(
                    f"column {name} appears twice (also column {column_letter(self.columns[name])})",
                    row=1, column=letter,
                )
                ok = False
            else:
                self.columns[name] = index
        for column in self.spec:
            if column.required and column.name not in self.columns:
                self.problems.add(f"missing column {column.name}", row=1, column=column.name)
                ok = False
        self.headers = texts
        return ok

    def _cells_to_row(self, number: int, cells: Sequence[Any]) -> Row | None:
        """A data row, or None for a blank row or one with problems (added)."""
        if all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells):
            return None
        values: dict[str, Any] = {}
        bad = False
        for name, index in self.columns.items():
            cell = cells[index] if index < len(cells) else None
            if isinstance(cell, str):
                cell = cell.strip()
                if not cell:
                    cell = None
                elif len(cell) > MAX_CELL_CHARS:
                    self.problems.add(f"more than {MAX_CELL_CHARS} characters", row=number, column=name)
                    bad = True
            values[name] = cell
        mapped = set(self.columns.values())
        for index in range(len(cells)):
            cell = cells[index]
            if index in mapped or cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            self.problems.add(
                f"a value in column {column_letter(index)}, which has no header", row=number,
                column=column_letter(index),
            )
            bad = True
        return None if bad else Row(number, values)

    def _too_many(self, number: int) -> None:
        self.problems.add(
            f"more than {self.max_rows} data rows; split the file (the header is row 1)", row=number
        )

    # -- CSV ----------------------------------------------------------------------------
    def _csv_rows(self) -> Iterator[Row]:
        head = self.source.read(_SNIFF_BYTES)
        self.source.seek(0)
        if head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            encoding = "utf-8"
            if b"\x00" in head:
                self.problems.add(
                    "the file is binary, not CSV text; upload a .csv (UTF-8) or .xlsx file", row=1
                )
                return
        try:
            first_line = head.decode(encoding, errors="ignore").lstrip("\ufeff").splitlines()[0]
        except IndexError:
            first_line = ""
        delimiter = max((",", ";", "\t"), key=lambda d: (first_line.count(d), d == ","))
        counter = _CountingReader(self.source)
        text = io.TextIOWrapper(io.BufferedReader(counter), encoding=encoding, errors="strict", newline="")
        reader = csv.reader(text, delimiter=delimiter, strict=False)
        total = _size(self.source)
        number = 0
        try:
            for cells in reader:
                number += 1
                if number == 1:
                    if not self._map_header(cells):
                        return
                    continue
                if any("\x00" in cell for cell in cells):
                    self.problems.add("the row holds binary data (NUL bytes)", row=number)
                    return
                if number - 1 > self.max_rows:
                    self._too_many(number)
                    return
                row = self._cells_to_row(number, cells)
                if self.progress is not None and number % 1000 == 0:
                    self.progress(counter.read_bytes, total)
                if row is not None:
                    yield row
        except UnicodeDecodeError:
            self.problems.add(
                "the file is not UTF-8 text (another encoding, or binary); save it as CSV UTF-8",
                row=number + 1,
            )
            return
        except csv.Error as error:
            self.problems.add(f"unreadable CSV: {error}", row=number + 1)
            return
        if number == 0:
            self.problems.add("the file is empty: it needs a header row and at least one data row", row=1)
        if self.progress is not None:
            self.progress(counter.read_bytes, total)

    # -- XLSX ---------------------------------------------------------------------------
    def _xlsx_rows(self) -> Iterator[Row]:
        from openpyxl import load_workbook

        merged = _merged_ranges(self.source)
        if merged is None:
            self.problems.add("the file is not a readable XLSX workbook (damaged or not a workbook)", row=1)
            return
        self.source.seek(0)
        try:
            book = load_workbook(self.source, read_only=True, data_only=False, keep_links=False)
        except Exception:  # openpyxl raises many kinds for damaged files; all mean the same here
            self.problems.add("the file is not a readable XLSX workbook (damaged or not a workbook)", row=1)
            return
        try:
            sheets = book.worksheets
            if len(sheets) != 1:
                names = ", ".join(repr(s.title) for s in sheets[:10])
                self.problems.add(
                    f"the workbook has {len(sheets)} sheets ({names}); an import reads one sheet: "
                    "keep only the sheet to import",
                    row=1,
                )
                return
            if merged:
                for ref in merged[:50]:
                    self.problems.add(
                        f"merged cells {ref}; unmerge them so every row holds its own values",
                        row=_first_row(ref), column=ref.split(":")[0].rstrip("0123456789"),
                    )
                return
            sheet = sheets[0]
            total = sheet.max_row if isinstance(sheet.max_row, int) and sheet.max_row > 1 else None
            sheet.reset_dimensions()  # some writers record wrong dimensions: read every row
            expected = 1
            saw_header = False
            for cells in sheet.iter_rows():
                number = _row_number(cells, expected)
                expected = number + 1
                values = [self._cell_value(cell, number) for cell in cells]
                if not saw_header:
                    if number != 1 or not self._map_header(values):
                        if number != 1:
                            self.problems.add("the first row must be the header row", row=1)
                        return
                    saw_header = True
                    continue
                if number - 1 > self.max_rows:
                    self._too_many(number)
                    return
                if any(v is _BAD for v in values):
                    continue
                row = self._cells_to_row(number, values)
                if self.progress is not None and number % 1000 == 0:
                    self.progress(number, total)
                if row is not None:
                    yield row
            if not saw_header:
                self.problems.add("the sheet is empty: it needs a header row and at least one data row", row=1)
            if self.progress is not None:
                self.progress(expected - 1, expected - 1)
        finally:
            book.close()

    def _cell_value(self, cell: Any, number: int) -> Any:
        value = getattr(cell, "value", None)
        kind = getattr(cell, "data_type", None)
        if kind == "f" or (isinstance(value, str) and value.startswith("=") and kind == "f"):
            self.problems.add(
                "a formula; the importer reads values only: paste the values instead",
                row=number, column=_cell_column(cell),
            )
            return _BAD
        if kind == "e":
            self.problems.add(f"an error value {value!r}", row=number, column=_cell_column(cell))
            return _BAD
        if value is not None and not isinstance(value, (str, int, float)):
            return str(value)  # dates and times: importers read them as text
        return value


_BAD = object()


def _cell_column(cell: Any) -> str | None:
    letter = getattr(cell, "column_letter", None)
    return letter if isinstance(letter, str) else None


def _row_number(cells: Sequence[Any], expected: int) -> int:
    for cell in cells:
        row = getattr(cell, "row", None)
        if isinstance(row, int):
            return row
    return expected


def _first_row(ref: str) -> int:
    digits = re.search(r"\d+", ref)
    return int(digits.group()) if digits else 1


_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*?\bref=\"([A-Za-z0-9:$]+)\"")


def _merged_ranges(source: IO[bytes]) -> list[str] | None:
    """Merged ranges of every sheet, scanning the XML as bytes (read-only openpyxl does not
    report them); None when the file is not a zip archive."""
    source.seek(0)
    found: list[str] = []
    try:
        with zipfile.ZipFile(source) as archive:
            for name in archive.namelist():
                if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                    continue
                with archive.open(name) as member:
                    tail = b""
                    while chunk := member.read(1 << 20):
                        data = tail + chunk
                        for match in _MERGE.finditer(data):
                            found.append(match.group(1).decode("ascii"))
                        cut = data.rfind(b"<")
                        # Keep an unfinished tag for the next chunk; a finished one was matched.
                        tail = data[cut:] if cut >= 0 and b">" not in data[cut:] else b""
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return None
    return list(dict.fromkeys(found))


class _CountingReader(io.RawIOBase):
    """Counts the bytes read through it (CSV progress)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.read_bytes += n
        return n


def _size(source: IO[bytes]) -> int | None:
    try:
        position = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(position)
        return end
    except (OSError, ValueError):
        return None


def _seekable(source: IO[bytes]) -> IO[bytes]:
    try:
        if source.seekable():
            source.seek(0)
            return source
    except (AttributeError, OSError, ValueError):
        pass
    copy: IO[bytes] = SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - lives as long as the table
    while chunk := source.read(1 << 20):
        copy.write(chunk)
    copy.seek(0)
    return copy
