"""Reading an uploaded file as a stream of numbered rows: the encoding, CSV or JSON Lines, the header.

Pure logic over a binary stream (no AWS): the split (customerdata.importer) hands it the S3 object's body,
tests hand it bytes. Memory is one row plus the 64 KB sample the encoding is detected on, whatever the
file's size.

Encodings: UTF-8 with or without a byte-order mark; a file that is not UTF-8 is read as Windows-1252
when it has bytes only that code page prints in 0x80-0x9F (Excel's "CSV" on Windows), else as Latin-1
(ISO 8859-1), unless the caller named the encoding. UTF-16 files, workbooks and binary files are refused
with a message saying how to save the file instead.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

SAMPLE_BYTES = 64 * 1024
MAX_FIELD_CHARS = 64 * 1024  # a single cell; longer is a broken quote, reported on its row
MAX_LINE_CHARS = 256 * 1024  # one JSON Lines record
MAX_COLUMNS = 500

type Encoding = Literal["utf-8", "utf-8-sig", "windows-1252", "latin-1"]
type FileFormat = Literal["csv", "jsonl"]
ENCODINGS: tuple[str, ...] = ("auto", "utf-8", "windows-1252", "latin-1")


class FileRefused(ValueError):
    """The file as a whole cannot be read; the message says what to do about it."""


@dataclass(frozen=True)
class RawRow:
    """One data row: its 1-based row number as a spreadsheet shows it (the header is row 1 in a CSV)."""

    number: int
    values: dict[str, Any]
    error: str | None = None  # the row could not be read at all (the reason, for the error file)


def detect_encoding(sample: bytes, *, complete: bool, declared: str = "auto") -> Encoding:
    """The encoding of a file from its first bytes (`complete`: the sample is the whole file)."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileRefused(
            "The file is UTF-16, which imports do not read: save it as UTF-8 (in Excel: CSV UTF-8)."
        )
    if sample.startswith(b"PK\x03\x04"):
        raise FileRefused(
            "The file is a workbook or an archive (it starts like a .xlsx or .zip), not a CSV: "
            "export it as CSV UTF-8."
        )
    if b"\x00" in sample:
        raise FileRefused("The file holds NUL bytes, so it is not a text file: export it as CSV UTF-8.")
    if declared != "auto":
        if declared == "utf-8":
            return "utf-8-sig"  # a BOM, if present, is not part of the first header
        if declared in ("windows-1252", "latin-1"):
            return declared  # type: ignore[return-value]
        raise FileRefused(f"Unknown encoding {declared!r}: use one of {', '.join(ENCODINGS)}.")
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    # Not UTF-8. The C1 range 0x80-0x9F holds only control characters in Latin-1, printable ones
    # (curly quotes, the euro sign, dashes) in Windows-1252: which of the two the bytes are.
    if any(0x80 <= byte <= 0x9F for byte in sample):
        undefined = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
        if any(byte in undefined for byte in sample):
            raise FileRefused(
                "The file is neither UTF-8 nor Latin-1 / Windows-1252 (it holds bytes neither defines): "
                "save it as UTF-8 (in Excel: CSV UTF-8)."
            )
        return "windows-1252"
    return "latin-1"


class _Prefixed(io.RawIOBase):
    """`prefix` then the rest of `rest`: the sample read for detection, put back in front of the stream."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


def open_text(stream: IO[bytes], *, declared: str = "auto") -> tuple[IO[str], Encoding]:
    """The stream as text in its detected encoding (see `detect_encoding`)."""
    sample = stream.read(SAMPLE_BYTES)
    complete = len(sample) < SAMPLE_BYTES
    encoding = detect_encoding(sample, complete=complete, declared=declared)
    raw = io.BufferedReader(_Prefixed(sample, stream), buffer_size=SAMPLE_BYTES)
    return io.TextIOWrapper(raw, encoding=encoding, newline=""), encoding


def describe_decode_error(encoding: str, error: UnicodeDecodeError) -> str:
    return (
        f"The file is not valid {encoding.replace('-sig', '')} after its first {SAMPLE_BYTES // 1024} KB "
        f"(byte 0x{error.object[error.start]:02x} cannot be decoded): save the whole file as UTF-8, or "
        "import it with the encoding it was saved in (latin-1 or windows-1252)."
    )


def csv_rows(text: IO[str]) -> tuple[list[str], Iterator[RawRow]]:
    """The header and the data rows of a CSV (comma, semicolon or tab separated, sniffed on the header)."""
    csv.field_size_limit(MAX_FIELD_CHARS)
    first = text.readline(MAX_LINE_CHARS + 1)
    if len(first) > MAX_LINE_CHARS:
        raise FileRefused(
            f"The first line is longer than {MAX_LINE_CHARS} characters: it must name the columns, one line."
        )
    if not first.strip():
        raise FileRefused(
            "The file is empty or its first line is blank: the first line must name the columns."
        )
    delimiter = max((",", ";", "\t"), key=first.count)
    header = next(csv.reader([first], delimiter=delimiter))
    header = [name.strip() for name in header]
    if len(header) > MAX_COLUMNS:
        raise FileRefused(f"The file has {len(header)} columns; an import takes at most {MAX_COLUMNS}.")
    blank = [str(i + 1) for i, name in enumerate(header) if not name]
    if blank:
        raise FileRefused(f"Column {', '.join(blank)} of the first line has no name: name every column.")
    seen: set[str] = set()
    twice = sorted({name for name in header if name.lower() in seen or seen.add(name.lower())})  # type: ignore[func-returns-value]
    if twice:
        raise FileRefused(f"The first line names {', '.join(twice)} more than once: name each column once.")
    return header, _data_rows(text, header, delimiter)


def _data_rows(text: IO[str], header: list[str], delimiter: str) -> Iterator[RawRow]:
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    number = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number = reader.line_num
            yield RawRow(number, {}, f"the row cannot be read as CSV ({exc}); check its quotes")
            continue
        number += 1
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(header):
            yield RawRow(number, {}, f"the row has {len(cells)} cells and the header {len(header)} columns")
            continue
        yield RawRow(number, dict(zip(header, cells, strict=True)))


def jsonl_rows(text: IO[str]) -> Iterator[RawRow]:
    """One JSON object per line; blank lines are skipped, others are reported where they are broken."""
    for number, line in enumerate(iter(lambda: text.readline(MAX_LINE_CHARS + 1), ""), start=1):
        if len(line) > MAX_LINE_CHARS:
            yield RawRow(number, {}, f"the line is longer than {MAX_LINE_CHARS} characters")
            for _ in iter(lambda: text.readline(MAX_LINE_CHARS + 1), ""):
                if _.endswith("\n"):
                    break
            continue
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            yield RawRow(number, {}, f"the line is not JSON ({str(exc).splitlines()[0][:120]})")
            continue
        if not isinstance(value, dict):
            yield RawRow(number, {}, "the line is JSON but not an object")
            continue
        yield RawRow(number, value)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")
