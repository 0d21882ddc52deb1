"""Export cells and columns: formula injection, numbers, nested values, which columns exist."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customerdata.exports import (
    cell,
    csv_rows,
    header_row,
    path_value,
    profile_cells,
    repeated,
    unknown_profile_columns,
)
from leadstream.profiles import Profile


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-2", "'-2"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("a=b", "a=b"),
        ("Zoë", "Zoë"),
        (-2, "-2"),  # a number is a number, not a formula
        (2.5, "2.5"),
        (Decimal("1200.00"), "1200.00"),
        (float("nan"), ""),
        (True, "true"),
        (None, ""),
        (["a", "b"], '["a","b"]'),
        ({"k": "=x"}, '{"k":"=x"}'),
        ([["=x"]], '[["=x"]]'),
    ],
)
def test_cells_are_never_formulas(value: object, written: str) -> None:
    assert cell(value) == written


def test_json_that_starts_like_a_formula_is_quoted_too() -> None:
    assert cell("-") == "'-"
    assert cell({"a": 1}).startswith("{")


def test_rows_are_rfc4180_and_header_carries_a_bom() -> None:
    data = csv_rows([['say "hi"', "line\nbreak", "a,b"], [1, None, "=x"]])
    assert data.endswith(b"\r\n")
    assert list(csv.reader(io.StringIO(data.decode(), newline=""))) == [
        ['say "hi"', "line\nbreak", "a,b"],
        ["1", "", "'=x"],
    ]
    assert header_row(["email"]) == b"\xef\xbb\xbfemail\r\n"


def test_profile_columns() -> None:
    assert unknown_profile_columns(["email", "firstName", "traits.company.name", "score", "tags"]) == []
    assert unknown_profile_columns(
        ["favouriteColour", "traits.", "traits.a..b", "traits.a.b.c.d.e.f", "x"]
    ) == [
        "favouriteColour",
        "traits.",
        "traits.a..b",
        "traits.a.b.c.d.e.f",
        "x",
    ]
    assert repeated(["a", "b", "a", "a"]) == ["a"]


def test_profile_cells() -> None:
    profile = Profile.model_validate(
        {
            "profileId": "p1",
            "email": "ada@example.com",
            "traits": {"firstName": "Ada", "company": {"name": "Analytical", "size": 12}},
            "tags": ["a", "b"],
            "stage": "lead",
            "firstSeen": "2026-01-02T03:04:05Z",
        }
    )
    now = datetime(2026, 2, 1, tzinfo=UTC)
    columns = [
        "profileId",
        "email",
        "firstName",
        "traits.company.size",
        "traits.company.nope",
        "stage",
        "tags",
    ]
    assert profile_cells(profile, columns, now) == ["p1", "ada@example.com", "Ada", 12, None, "lead", "a;b"]
    assert profile_cells(profile, ["firstSeen", "lastName", "score"], now) == [
        "2026-01-02T03:04:05.000000Z",
        None,
        0.0,
    ]
    assert path_value({"a": "text"}, ["a", "b"]) is None
