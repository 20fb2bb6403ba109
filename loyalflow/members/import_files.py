"""Reading import files: lines as bytes (for the progress bar), CSV records that may span lines,
rejected rows (counted, reported, written to --rejects), and validation messages per field.
"""

import codecs
import csv
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO, TypeVar

from pydantic import ValidationError

REPORTED_REJECTIONS = 50  # kept in the report; the --rejects file gets all of them
PROGRESS_EVERY_LINES = 256

ProgressCallback = Callable[[int, int], None]  # (bytes read, file size)
T = TypeVar("T")


class UnusableInput(Exception):
    """Nothing was imported: the file cannot be read as this kind of input (or the loyalty
    rules that events need cannot be loaded)."""


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str
    input: str  # the row as it appears in the file, to fix and re-import it


@dataclass
class ImportReport:
    rows: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # the first REPORTED_REJECTIONS

    def counts(self) -> dict[str, int]:
        """What happened to the rows that were not rejected, by outcome."""
        return {}


class RowRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# Reading: a binary stream of lines, so that bytes can be counted for the progress bar


class Source:
    """The input file, read line by line as bytes; counts lines and bytes as it goes."""

    def __init__(self, file: BinaryIO, on_progress: ProgressCallback | None) -> None:
        self._file = file
        self._on_progress = on_progress
        self.size = os.fstat(file.fileno()).st_size
        self.line_no = 0
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        for raw in self._file:
            self.line_no += 1
            self.bytes_read += len(raw)
            if self.line_no % PROGRESS_EVERY_LINES == 0:
                self.progress()
            # Spreadsheets save "CSV UTF-8" with a byte order mark; it is not part of the header.
            yield raw.removeprefix(codecs.BOM_UTF8) if self.line_no == 1 else raw
        self.progress()

    def progress(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.bytes_read, self.size)


def open_source(path: Path, on_progress: ProgressCallback | None, stack: ExitStack) -> Source:
    try:
        file = stack.enter_context(path.open("rb"))
    except OSError as exc:
        raise UnusableInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    return Source(file, on_progress)


def decode(raw: bytes) -> str:
    # surrogateescape keeps undecodable bytes (checked per row) and writes them back unchanged.
    return raw.decode("utf-8", "surrogateescape")


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Rejections: counted, the first ones kept for the report, all of them written to --rejects


class RejectSink:
    def __init__(self, report: ImportReport, file: TextIO | None) -> None:
        self._report = report
        self._writer = None if file is None else csv.writer(file)
        if self._writer is not None:
            self._writer.writerow(["line", "reason", "input"])

    def add(self, line: int, reason: str, text: str) -> None:
        self._report.rejected += 1
        rejection = Rejection(line, reason, text)
        if len(self._report.rejections) < REPORTED_REJECTIONS:
            self._report.rejections.append(rejection)
        if self._writer is not None:
            self._writer.writerow([line, reason, text])


def open_rejects(
    report: ImportReport, rejects: Path | None, source: Path, stack: ExitStack
) -> RejectSink:
    if rejects is None:
        return RejectSink(report, None)
    if rejects.resolve() == source.resolve():
        raise UnusableInput(f"--rejects {rejects} would overwrite the file being imported")
    try:
        # surrogateescape: a row rejected for bad UTF-8 is written back byte for byte.
        file = stack.enter_context(
            rejects.open("w", encoding="utf-8", errors="surrogateescape", newline="")
        )
    except OSError as exc:
        raise UnusableInput(f"cannot write {rejects}: {exc.strerror or exc}") from exc
    return RejectSink(report, file)


def describe_errors(exc: ValidationError) -> str:
    """One line per problem, naming the field, e.g. `email: value is not a valid email address`."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# Records of a CSV file


@dataclass(frozen=True)
class CsvRecord:
    line: int  # where the record starts (a quoted cell may span several lines)
    cells: list[str]
    text: str
    error: str | None = None


def csv_records(source: Source) -> Iterator[CsvRecord]:
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for raw in source:
            text = decode(raw)
            consumed.append(text)
            yield text

    reader = csv.reader(lines())
    while True:
        line = source.line_no + 1
        try:
            cells, error = next(reader), None
        except StopIteration:
            return
        except csv.Error as exc:
            cells, error = [], f"not valid CSV: {exc}"
        text = "".join(consumed).rstrip("\r\n")
        consumed.clear()
        if error is not None and not text:
            return  # an error that consumed nothing would repeat forever
        if cells or error is not None:  # blank lines are not rows
            yield CsvRecord(line, cells, text, error)
