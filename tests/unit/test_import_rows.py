"""Imports' pure logic: encodings, columns, rows to events, times, and the CLI's progress line."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from customerdata import reading
from customerdata.imports import MappingRefused, RowError, map_columns, parse_time, row_event
from leadstream_local.importing import Progress, summary

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (b"Email\na@example.com\n", "utf-8"),
        (b"\xef\xbb\xbfEmail\n", "utf-8-sig"),
        ("Name\nZoë\n".encode("latin-1"), "latin-1"),
        ("Name\n“quoted” €\n".encode("windows-1252"), "windows-1252"),
    ],
)
def test_encodings_are_detected(sample: bytes, expected: str) -> None:
    assert reading.detect_encoding(sample, complete=True) == expected


def test_a_multibyte_character_cut_by_the_sample_is_still_utf8() -> None:
    sample = "é".encode() * 10
    assert reading.detect_encoding(sample[:-1], complete=False) == "utf-8"


@pytest.mark.parametrize(
    ("sample", "says"),
    [
        (b"\xff\xfeE\x00", "UTF-16"),
        (b"PK\x03\x04", "workbook"),
        (b"a\x00b", "NUL"),
        (b"Name\n\x81\x8d\n", "neither UTF-8 nor Latin-1"),
    ],
)
def test_unreadable_encodings_are_refused_with_what_to_do(sample: bytes, says: str) -> None:
    with pytest.raises(reading.FileRefused, match=says):
        reading.detect_encoding(sample, complete=True)


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    text, _ = reading.open_text(io.BytesIO(b'Email;Name\na@x.io;"Ann; A"\n\nb@x.io\n'))
    header, rows = reading.csv_rows(text)
    assert header == ["Email", "Name"]
    assert [(row.number, row.values, row.error) for row in rows] == [
        (2, {"Email": "a@x.io", "Name": "Ann; A"}, None),
        (4, {}, "the row has 1 cells and the header 2 columns"),
    ]


@pytest.mark.parametrize("header", ["Email,,Name", "Email,email"])
def test_headers_must_be_named_once(header: str) -> None:
    text, _ = reading.open_text(io.BytesIO(header.encode() + b"\n"))
    with pytest.raises(reading.FileRefused):
        reading.csv_rows(text)


def test_headers_match_fields_and_others_become_custom_fields() -> None:
    columns = map_columns("contacts", ["E-Mail Address", "Given Name", "Job Title", "Lieblingsfarbe", "#"])
    assert columns == {
        "E-Mail Address": "email", "Given Name": "firstName", "Job Title": "title",
        "Lieblingsfarbe": "lieblingsfarbe", "#": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "header", "mapping", "says"),
    [
        ("contacts", ["Name"], None, "no email column"),
        ("contacts", ["Mail", "E-mail"], None, "all map to email"),
        ("contacts", ["Email"], {"Other": "email"}, "'Other'"),
        ("contacts", ["Email", "X"], {"X": "1bad name"}, "custom field"),
        ("events", ["Email", "Event"], None, "no timestamp column"),
        ("events", ["Event", "Date"], None, "who did the event"),
    ],
)
def test_columns_that_cannot_work_are_refused(
    kind: str, header: list[str], mapping: dict[str, str] | None, says: str
) -> None:
    with pytest.raises(MappingRefused, match=says):
        map_columns(kind, header, mapping)  # type: ignore[arg-type]


def test_the_same_row_is_the_same_event_and_a_changed_row_is_not() -> None:
    columns = {"Email": "email", "Name": "name"}
    first = row_event("contacts", {"Email": "A@Example.com ", "Name": "Ann"}, columns, now=NOW)
    again = row_event("contacts", {"Email": "a@example.com", "Name": "Ann"}, columns, now=NOW)
    later = row_event("contacts", {"Email": "a@example.com", "Name": "Ann"}, columns, now=datetime.now(UTC))
    changed = row_event("contacts", {"Email": "a@example.com", "Name": "Anna"}, columns, now=NOW)
    assert first.message_id == again.message_id == later.message_id != changed.message_id
    assert first.email == "a@example.com"
    assert first.anonymous_id is not None
    assert first.anonymous_id.startswith("imported-")


@pytest.mark.parametrize(
    ("values", "column", "says"),
    [
        ({"Email": "nope"}, "Email", "not an email address"),
        ({"Email": ""}, "Email", "the email is empty"),
        ({"Email": "a@b.io", "User": "null"}, "User", "not a usable id"),
        ({"Email": "a@b.io", "Name": "x" * 2001}, "Name", "2001 characters"),
    ],
)
def test_bad_rows_name_their_column_and_reason(values: dict[str, str], column: str, says: str) -> None:
    columns = {"Email": "email", "User": "userId", "Name": "name"}
    with pytest.raises(RowError, match=says) as caught:
        row_event("contacts", values, columns, now=NOW)
    assert caught.value.column == column


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-14", datetime(2025, 3, 14, tzinfo=UTC)),
        ("2025-03-14T09:30:00+02:00", datetime(2025, 3, 14, 7, 30, tzinfo=UTC)),
        ("2025-03-14 09:30", datetime(2025, 3, 14, 9, 30, tzinfo=UTC)),
        (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ],
)
def test_times(value: object, expected: datetime) -> None:
    assert parse_time(value, "Timestamp", NOW) == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("14/03/2025", "ISO 8601"),
        ("2999-01-01", "future"),
        ("1969-12-31", "before 1970"),
        (1e300, "out of range"),
    ],
)
def test_times_that_are_refused(value: object, says: str) -> None:
    with pytest.raises(RowError, match=says):
        parse_time(value, "Timestamp", NOW)


def test_the_progress_line_shows_rows_rate_and_time_left() -> None:
    progress = Progress(started=0.0)
    assert progress.line(0, None, 1.0) == f"[{'.' * 30}] reading the file (0:01)"
    assert progress.line(0, 1000, 2.0) == f"[{'.' * 30}] 0/1,000 rows  0 rows/s  --:-- left"
    assert progress.line(500, 1000, 5.0) == f"[{'#' * 15}{'.' * 15}] 500/1,000 rows  167 rows/s  0:03 left"
    assert progress.line(1000, 1000, 7.0).endswith("1,000/1,000 rows  200 rows/s  0:00 left")


def test_the_summary_lists_every_count() -> None:
    job = {"fileName": "c.csv", "dryRun": True, "counts": {"rows": 1200, "created": 1000, "rejected": 200}}
    assert summary(job, 75.0) == [
        "c.csv: 1,200 rows checked (dry run: nothing written) in 1:15",
        "  created         1,000",
        "  updated             0",
        "  merged              0",
        "  unchanged           0",
        "  rejected          200",
    ]
