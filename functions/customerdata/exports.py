"""Exports: a segment, or a CRM list with its filters, to CSV. The job, the columns, the cells. Pure logic.

The export runs in the import worker (customerdata.exporter) page by page; this module says which columns
exist, what a profile's or a record's cell holds, and how a row is written so that a spreadsheet never runs
a cell as a formula. docs/customer-data.md states the rules.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, StringConstraints

from customerdata.imports import CONTACT_FIELDS, IDENTITY_FIELDS
from leadstream.models import Model
from leadstream.profiles import Profile, iso_utc

type ExportSource = Literal["segment", "crm"]
type ExportStatus = Literal["queued", "running", "done", "failed"]

MAX_COLUMNS = 200
# The profile's own columns, beside its traits (`traits.<path>`, or a standard contact field by name).
PROFILE_COLUMNS = (
    "profileId",
    "email",
    "userId",
    "stage",
    "score",
    "fit",
    "grade",
    "tags",
    "firstSeen",
    "lastSeen",
)
TRAIT_COLUMNS = tuple(field for field in CONTACT_FIELDS if field not in IDENTITY_FIELDS)
DEFAULT_SEGMENT_COLUMNS = ("profileId", "email", "firstName", "lastName", "company", "stage", "score")
_TRAIT_PATH = re.compile(r"^traits\.[A-Za-z0-9_$-]{1,100}(\.[A-Za-z0-9_$-]{1,100}){0,4}$")
# A cell starting with one of these is run as a formula by spreadsheets (CSV injection): it gets a `'`.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Column = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Columns = Annotated[list[Column], Field(min_length=1, max_length=MAX_COLUMNS)]


# --- the requests --------------------------------------------------------------------------------
class SegmentExportRequest(Model):
    """`POST /marketing/exports`."""

    segment_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,100}$")] = Field(
        alias="segmentId"
    )
    columns: Columns | None = Field(
        default=None,
        description=f"the CSV's columns, in order (default: {', '.join(DEFAULT_SEGMENT_COLUMNS)}): "
        f"{', '.join(PROFILE_COLUMNS)}, the standard traits ({', '.join(TRAIT_COLUMNS)}), or any trait "
        "as traits.<path> (traits.company.industry)",
    )


FilterValue = Annotated[str, StringConstraints(max_length=2048)] | bool | int


class CrmExportRequest(Model):
    """`POST /crm/exports`."""

    resource: Literal["contacts", "accounts", "leads", "deals"] = Field(
        description="the CRM list, as its URL names it"
    )
    filters: dict[Annotated[str, StringConstraints(max_length=100)], FilterValue] = Field(
        default_factory=dict,
        max_length=30,
        description="the list route's query parameters (ownerId, accountId, createdFrom ...; not limit or "
        "cursor), with the same meaning",
    )
    columns: Columns = Field(
        description="the CSV's columns, in order: the record's fields (JSON names), address.city, "
        "customFields.<key>"
    )


# --- the job ---------------------------------------------------------------------------------------
class ExportJob(Model):
    export_id: str = Field(alias="exportId")
    source: ExportSource
    segment_id: str | None = Field(default=None, alias="segmentId")
    resource: str | None = None
    filters: dict[str, JsonValue] = Field(default_factory=dict)
    columns: list[str]
    status: ExportStatus
    created_at: str = Field(alias="createdAt")
    created_by: str = Field(alias="createdBy")
    created_by_name: str = Field(default="", alias="createdByName")
    roles: list[str] = Field(default_factory=list)  # the asker's roles: a CRM list shows what they may see
    started_at: str | None = Field(default=None, alias="startedAt")
    finished_at: str | None = Field(default=None, alias="finishedAt")
    error: str | None = None
    # Progress, checkpointed with each part: the rows and bytes in the parts uploaded so far, and the cursor
    # of the first page after them. A step that dies resumes from here; the rows it had not uploaded yet
    # are read again, never written twice.
    upload_id: str | None = Field(default=None, alias="uploadId")
    parts: int = 0
    rows: int = 0
    bytes_written: int = Field(default=0, alias="bytes")
    cursor: str | None = None
    pages_read: bool = Field(default=False, alias="pagesRead")

    @property
    def file_key(self) -> str:
        return f"exports/{self.export_id}/{self.file_name}"

    @property
    def file_name(self) -> str:
        what = self.segment_id if self.source == "segment" else self.resource
        return f"{what}-{self.created_at[:10]}.csv"


# --- columns -------------------------------------------------------------------------------------
def unknown_profile_columns(columns: Sequence[str]) -> list[str]:
    return [
        column
        for column in columns
        if column not in PROFILE_COLUMNS and column not in TRAIT_COLUMNS and not _TRAIT_PATH.match(column)
    ]


def repeated(columns: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    twice = []
    for column in columns:
        if column in seen and column not in twice:
            twice.append(column)
        seen.add(column)
    return twice


def profile_cells(profile: Profile, columns: Sequence[str], now: datetime) -> list[Any]:
    return [_profile_value(profile, column, now) for column in columns]


_PROFILE_VALUES: dict[str, Callable[[Profile, datetime], Any]] = {
    "profileId": lambda profile, now: profile.profile_id,
    "email": lambda profile, now: profile.email,
    "userId": lambda profile, now: profile.user_id,
    "stage": lambda profile, now: profile.stage.value if profile.stage else None,
    "score": lambda profile, now: round(profile.score.engagement_at(now), 2),
    "fit": lambda profile, now: profile.score.fit,
    "grade": lambda profile, now: profile.score.grade,
    "tags": lambda profile, now: ";".join(profile.tags),
    "firstSeen": lambda profile, now: iso_utc(profile.first_seen) if profile.first_seen else None,
    "lastSeen": lambda profile, now: iso_utc(profile.last_seen) if profile.last_seen else None,
}


def _profile_value(profile: Profile, column: str, now: datetime) -> Any:
    own = _PROFILE_VALUES.get(column)
    if own is not None:
        return own(profile, now)
    return path_value(profile.traits, column.removeprefix("traits.").split("."))


def record_cells(document: Mapping[str, Any], columns: Sequence[str]) -> list[Any]:
    return [path_value(document, column.split(".")) for column in columns]


def path_value(document: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = document
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


# --- cells and rows --------------------------------------------------------------------------------
def cell(value: Any) -> str:
    """What a CSV cell holds: numbers as written, lists and objects as JSON, and text that a spreadsheet
    would run as a formula prefixed with `'` (the prefix is the convention spreadsheets show as text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        return "" if isinstance(value, float) and not math.isfinite(value) else str(value)
    if isinstance(value, Mapping | list | tuple):
        value = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    return safe_text(str(value))


def safe_text(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_rows(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows as CSV (RFC 4180: comma, double quotes, CRLF), UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue().encode()


def header_row(columns: Sequence[str]) -> bytes:
    # A UTF-8 byte-order mark first, so Excel opens the file as UTF-8 (names with accents stay right).
    return b"\xef\xbb\xbf" + csv_rows([list(columns)])
