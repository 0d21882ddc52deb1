"""Imports: the job, how columns map to fields, and how one row becomes one event. Pure logic, no AWS.

Every row becomes a tracking event that goes through identity resolution like any other: a contact is an
`identify` (its fields are traits), an offline event a `track` with its own timestamp. The event's
messageId is derived from the row's content, so the same row imported twice is the same event: stored
once, resolved once, counted `unchanged` the second time. docs/customer-data.md states the rules.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError

from leadstream.events import EARLIEST_EVENT_TIME, SegmentMessage, TrackedEvent
from leadstream.models import Model
from scoring.external_ids import external_id

type ImportKind = Literal["contacts", "events", "accounts"]
type ImportStatus = Literal["awaiting-upload", "queued", "running", "done", "failed"]

IMPORT_SOURCE_ID = "import"  # the source id of every imported event (events table key, fingerprints)
MAX_MAPPING_COLUMNS = 500
IMPORT_NAMESPACE = uuid.UUID("0c5d1b4e-7a0f-5d8e-b1e2-3f9a6c2d4e71")

# Fields a column can map to; the identity fields are not traits.
IDENTITY_FIELDS = ("email", "userId", "anonymousId")
# A person's ids in other systems (scoring.external_ids): a row matches the person known by one of them.
# `ext:<type>` (a mapping's field) names any other system's id.
EXTERNAL_FIELDS = {"salesforceId": "salesforce", "hubspotId": "hubspot"}
EXTERNAL_PREFIX = "ext:"
CONTACT_FIELDS = (
    *IDENTITY_FIELDS,
    *EXTERNAL_FIELDS,
    "firstName",
    "lastName",
    "name",
    "phone",
    "company",
    "title",
    "website",
    "city",
    "state",
    "country",
    "postalCode",
)
EVENT_FIELDS = (*IDENTITY_FIELDS, *EXTERNAL_FIELDS, "event", "timestamp")
# A CRM account's fields (customerdata.account_rows; any other column is a custom field of the account).
ACCOUNT_ADDRESS_FIELDS = ("street", "city", "region", "postalCode", "country")
ACCOUNT_FIELDS = (
    "accountId",
    "name",
    "domain",
    "industry",
    "size",
    "employees",
    "phone",
    "description",
    "ownerId",
    "parentId",
    *ACCOUNT_ADDRESS_FIELDS,
    *EXTERNAL_FIELDS,
)

_TIME_HEADERS = (
    *("timestamp", "time", "date", "datetime", "occurredat", "eventtime", "eventdate"),
    *("orderdate", "purchasedate", "purchasedat"),
)
# Headers as people write them, reduced to lower-case letters and digits, and the field each means.
_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(("email", "emailaddress", "mail", "emailid", "primaryemail", "workemail"), "email"),
    **dict.fromkeys(("userid", "user", "customerid", "contactid", "externalid"), "userId"),
    **dict.fromkeys(("anonymousid", "anonid", "ajsanonymousid", "visitorid", "cookieid"), "anonymousId"),
    **dict.fromkeys(("firstname", "first", "givenname", "forename", "prenom", "vorname"), "firstName"),
    **dict.fromkeys(("lastname", "last", "surname", "familyname", "nom", "nachname"), "lastName"),
    **dict.fromkeys(("name", "fullname", "contactname"), "name"),
    **dict.fromkeys(
        ("phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone", "cell", "cellphone"), "phone"
    ),
    **dict.fromkeys(
        (
            "company",
            "companyname",
            "organization",
            "organisation",
            "account",
            "accountname",
            "employer",
            "firma",
            "societe",
            "entreprise",
            "unternehmen",
        ),
        "company",
    ),
    **dict.fromkeys(("title", "jobtitle", "position", "role"), "title"),
    **dict.fromkeys(("website", "url", "web", "homepage", "companywebsite"), "website"),
    **dict.fromkeys(("city", "town"), "city"),
    **dict.fromkeys(("state", "region", "province", "county"), "state"),
    **dict.fromkeys(("country", "countrycode"), "country"),
    **dict.fromkeys(("postalcode", "zip", "zipcode", "postcode"), "postalCode"),
    **dict.fromkeys(
        ("salesforceid", "sfdcid", "sfid", "salesforcecontactid", "salesforceleadid"), "salesforceId"
    ),
    **dict.fromkeys(("hubspotid", "hubspotcontactid", "hubspotvid", "hsobjectid"), "hubspotId"),
    **dict.fromkeys(("event", "eventname", "action", "activity"), "event"),
    **dict.fromkeys(_TIME_HEADERS, "timestamp"),
}
# An account file's headers: the company is the record itself, so "Company" is its name.
_ACCOUNT_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(("accountid", "leadstreamid", "leadstreamaccountid"), "accountId"),
    **dict.fromkeys(
        ("name", "accountname", "company", "companyname", "organization", "organisation", "firma"), "name"
    ),
    **dict.fromkeys(("domain", "website", "url", "web", "companydomain", "webdomain", "homepage"), "domain"),
    **dict.fromkeys(("industry", "sector", "branche"), "industry"),
    **dict.fromkeys(("employees", "numberofemployees", "employeecount", "headcount"), "employees"),
    **dict.fromkeys(("size", "companysize", "sizeband"), "size"),
    **dict.fromkeys(("phone", "phonenumber", "telephone", "tel"), "phone"),
    **dict.fromkeys(("description", "about", "notes"), "description"),
    **dict.fromkeys(("ownerid", "owner", "accountowner"), "ownerId"),
    **dict.fromkeys(("parentid", "parentaccountid"), "parentId"),
    **dict.fromkeys(("street", "address", "streetaddress", "addressline1"), "street"),
    **dict.fromkeys(("city", "town"), "city"),
    **dict.fromkeys(("state", "region", "province", "county"), "region"),
    **dict.fromkeys(("postalcode", "zip", "zipcode", "postcode"), "postalCode"),
    **dict.fromkeys(("country", "countrycode"), "country"),
    **dict.fromkeys(("salesforceid", "salesforceaccountid", "sfdcid", "sfid"), "salesforceId"),
    **dict.fromkeys(("hubspotid", "hubspotcompanyid", "hscompanyid"), "hubspotId"),
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_NUMBER = re.compile(r"^-?(0|[1-9]\d{0,14})(\.\d{1,10})?$")
_CUSTOM = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
_EXTERNAL = re.compile(r"^ext:[a-z0-9_.-]{1,40}$")

FieldName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


# --- the job ---------------------------------------------------------------------------------------
class ImportCounts(Model):
    rows: int = 0  # data rows read so far (every outcome below adds one)
    created: int = 0  # a new person
    updated: int = 0  # a known person whose profile changed
    merged: int = 0  # a row that joined an anonymous visitor's profile
    unchanged: int = 0  # imported before, or nothing new about the person
    rejected: int = 0  # not imported; the error file says why

    def add(self, other: ImportCounts) -> ImportCounts:
        return ImportCounts(
            **{name: getattr(self, name) + getattr(other, name) for name in type(self).model_fields}
        )


class ImportRequest(Model):
    """`POST /marketing/imports`."""

    kind: ImportKind
    file_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] = Field(
        alias="fileName"
    )
    size: int = Field(ge=1, description="the file's size in bytes")
    format: Literal["csv", "jsonl"] | None = Field(
        default=None, description="csv, or jsonl (events only); by default from the file name"
    )
    encoding: Literal["auto", "utf-8", "windows-1252", "latin-1"] = "auto"
    mapping: dict[ColumnName, FieldName | None] | None = Field(
        default=None,
        max_length=MAX_MAPPING_COLUMNS,
        description="column header to field (null: ignore the column); unmapped headers are matched "
        "automatically",
    )
    dry_run: bool = Field(default=False, alias="dryRun", description="validate and count; write nothing")

    def file_format(self) -> Literal["csv", "jsonl"]:
        if self.format:
            return self.format
        return "jsonl" if self.file_name.lower().endswith((".jsonl", ".ndjson", ".json")) else "csv"


class ImportJob(Model):
    import_id: str = Field(alias="importId")
    kind: ImportKind
    status: ImportStatus
    file_name: str = Field(alias="fileName")
    format: Literal["csv", "jsonl"]
    encoding: str
    size: int
    mapping: dict[str, str | None] | None = None
    dry_run: bool = Field(alias="dryRun")
    created_at: str = Field(alias="createdAt")
    created_by: str = Field(alias="createdBy")
    started_at: str | None = Field(default=None, alias="startedAt")
    finished_at: str | None = Field(default=None, alias="finishedAt")
    chunks: int | None = None  # set by the split
    chunks_done: int = Field(default=0, alias="chunksDone")
    total_rows: int | None = Field(default=None, alias="totalRows")
    counts: ImportCounts = Field(default_factory=ImportCounts)
    error: str | None = None  # why the whole file failed (status failed)
    columns: dict[str, str | None] | None = None  # the mapping used: header to field (null: ignored)

    @property
    def upload_key(self) -> str:
        return f"imports/{self.import_id}/upload"

    def chunk_key(self, number: int) -> str:
        return f"imports/{self.import_id}/chunks/{number:06d}.jsonl"

    def chunk_errors_key(self, number: int) -> str:
        return f"imports/{self.import_id}/errors/{number:06d}.csv"

    @property
    def error_file_key(self) -> str:
        return f"imports/{self.import_id}/errors.csv"


# --- columns ---------------------------------------------------------------------------------------
def normalized(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def custom_name(header: str) -> str:
    """A header nobody maps, as a custom field name: "Favourite colour" -> favouriteColour."""
    words: list[str] = re.findall(r"[A-Za-z0-9]+", header)
    if not words:
        return ""
    name = words[0].lower() + "".join(word[:1].upper() + word[1:].lower() for word in words[1:])
    if not name[0].isalpha():
        name = "field" + name[:1].upper() + name[1:]
    return name[:100]


class MappingRefused(ValueError):
    """The columns cannot be imported as they are; the message says what to fix."""


def map_columns(
    kind: ImportKind, header: list[str], given: Mapping[str, str | None] | None = None
) -> dict[str, str | None]:
    """Each header's field (None: ignored): the caller's mapping first, then the synonyms, then a custom
    field named after the header. Refuses a mapping that names a missing column, a field mapped twice, and
    a file without the columns its kind needs (contacts: an email; events: an identity, event, time)."""
    given = dict(given or {})
    missing = sorted(set(given) - set(header))
    if missing:
        raise MappingRefused(
            f"The mapping names {', '.join(repr(name) for name in missing)}, which the file's first line "
            f"does not have (it has {', '.join(repr(name) for name in header[:20])})."
        )
    known = {"contacts": CONTACT_FIELDS, "events": EVENT_FIELDS, "accounts": ACCOUNT_FIELDS}[kind]
    columns: dict[str, str | None] = {}
    for name in header:
        if name in given:
            field = given[name]
            if (
                field is not None
                and field not in known
                and not _CUSTOM.match(field)
                and not _EXTERNAL.match(field)
            ):
                raise MappingRefused(
                    f"The mapping maps {name!r} to {field!r}: use one of {', '.join(known)}, a custom field "
                    "name (letters, digits and _, starting with a letter), ext:<system> for an id in another "
                    "system (ext:zoho), or null to skip the column."
                )
            columns[name] = field or None
            continue
        columns[name] = synonym(kind, name) or custom_name(name) or None
    mapped: dict[str, list[str]] = {}
    for name, field in columns.items():
        if field is not None:
            mapped.setdefault(field, []).append(name)
    for field, names in mapped.items():
        if len(names) > 1 and (field in known or _EXTERNAL.match(field)):
            raise MappingRefused(
                f"Columns {', '.join(repr(n) for n in names)} all map to {field}: map all but one to another "
                "field or to null (--mapping)."
            )
    _require_fields(kind, set(mapped))
    return columns


def synonym(kind: ImportKind, header: str) -> str | None:
    return (_ACCOUNT_SYNONYMS if kind == "accounts" else _SYNONYMS).get(normalized(header))


def _require_fields(kind: ImportKind, fields: set[str]) -> None:
    if kind == "accounts" and "name" not in fields:
        raise MappingRefused(
            "The file has no name column: name a column Name (or Account Name, Company), or map one to name "
            "with a mapping."
        )
    if kind == "contacts" and "email" not in fields:
        raise MappingRefused(
            "The file has no email column: name a column Email (or E-mail, Email Address), or map one to "
            "email with a mapping."
        )
    if kind == "events":
        if not fields & {*IDENTITY_FIELDS, *EXTERNAL_FIELDS} and not any(map(_EXTERNAL.match, fields)):
            raise MappingRefused(
                "The file has no column that says who did the event: add an Email, User ID, Anonymous ID, "
                "Salesforce ID or HubSpot ID column, or map one with a mapping."
            )
        for needed, example in (("event", "Event"), ("timestamp", "Timestamp")):
            if needed not in fields:
                raise MappingRefused(
                    f"The file has no {needed} column: name a column {example}, or map one to {needed} "
                    "with a mapping."
                )


# --- rows ------------------------------------------------------------------------------------------
class RowError(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def row_event(
    kind: ImportKind,
    values: Mapping[str, Any],
    columns: Mapping[str, str | None],
    *,
    now: datetime,
) -> TrackedEvent:
    """The event a row stands for; RowError (column, reason) when it cannot be imported."""
    fields, column_of = row_fields(kind, values, columns)
    email = _email(fields.pop("email", None), column_of)
    user_id = fields.pop("userId", None)
    anonymous_id = fields.pop("anonymousId", None)
    known_ids, listed_ids = _external_ids(fields, column_of)
    if kind == "contacts" and email is None:
        raise RowError(_column(columns, "email"), "the email is empty")
    if email is None and user_id is None and anonymous_id is None and not (known_ids or listed_ids):
        raise RowError(_column(columns, "email"), "no email, user id or anonymous id says who this is")
    if anonymous_id is None and user_id is None:
        # An identity the events table can index the person's timeline under (ByIdentity), stable per
        # address (or, without one, per id in another system): every row of one person lands in the same
        # partition, whichever file it came from.
        externals = [f"{EXTERNAL_FIELDS[k]}:{v}" for k, v in known_ids.items()]
        first_external = next(iter([*externals, *(f"{e['type']}:{e['id']}" for e in listed_ids)]), "")
        anonymous_id = (
            f"imported-{uuid.uuid5(IMPORT_NAMESPACE, str(email) if email else 'ext:' + first_external)}"
        )
    if kind == "contacts":
        event_type: Literal["identify", "track"] = "identify"
        traits = {**fields, **known_ids, **({"email": email} if email else {})}
        properties: dict[str, Any] = {}
        context: dict[str, Any] = {"externalIds": listed_ids} if listed_ids else {}
        name = None
        timestamp = now
    else:
        event_type = "track"
        name = fields.pop("event", None)
        if not isinstance(name, str) or not name.strip():
            raise RowError(_column(columns, "event"), "the event name is empty")
        stamp = fields.pop("timestamp", None)
        timestamp = parse_time(stamp, column_of.get("timestamp", _column(columns, "timestamp")), now)
        properties = fields
        traits = {}
        context_traits = {**known_ids, **({"email": email} if email else {})}
        context = {"traits": context_traits} if context_traits else {}
        if listed_ids:
            context["externalIds"] = listed_ids
    content = json.dumps(
        [
            kind,
            email,
            user_id,
            anonymous_id,
            name,
            traits,
            properties,
            timestamp.isoformat() if kind == "events" else None,
            # (added only when present, so the ids of rows imported before external ids stay the same)
            *([known_ids, listed_ids] if (known_ids or listed_ids) and kind == "events" else []),
            *([listed_ids] if listed_ids and kind == "contacts" else []),
        ],
        sort_keys=True,
        default=str,
    )
    message_id = "import-" + hashlib.sha256(content.encode()).hexdigest()[:40]
    try:
        # The Segment message's rules for ids (no junk ids like "null", sizes) apply to imported rows too.
        SegmentMessage.model_validate(
            {"type": event_type, "userId": user_id, "anonymousId": anonymous_id, "event": name}
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = str(error["loc"][0]) if error["loc"] else "row"
        column = column_of.get(where, where)
        raise RowError(column, str(error["msg"]).removeprefix("Value error, ")) from None
    return TrackedEvent(
        source_id=IMPORT_SOURCE_ID,
        message_id=message_id,
        type=event_type,
        user_id=user_id,
        anonymous_id=anonymous_id,
        event=name,
        properties=properties,
        traits=traits,
        context={**context, "library": {"name": "leadstream-import"}},
        timestamp=timestamp,
        received_at=now,
    )


def row_fields(
    kind: ImportKind, values: Mapping[str, Any], columns: Mapping[str, str | None]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The row's values by field (empty ones left out), and the column each came from."""
    fields: dict[str, Any] = {}
    column_of: dict[str, str] = {}
    for header, raw in values.items():
        field = columns.get(header) if header in columns else _json_field(kind, header)
        if field is None:
            continue
        value = _clean(raw, header, parse_numbers=kind == "events")
        if value is None:
            continue
        fields[field] = value
        column_of[field] = header
    return fields, column_of


def _email(email: Any, column_of: Mapping[str, str]) -> str | None:
    if email is None:
        return None
    if not isinstance(email, str) or not _EMAIL.match(email) or len(email) > 254:
        raise RowError(column_of["email"], f"{str(email)[:80]!r} is not an email address")
    return email.lower()


def _external_ids(
    fields: dict[str, Any], column_of: Mapping[str, str]
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Take the row's ids in other systems out of `fields`, checked: the well-known ones as the traits
    scoring reads (`salesforceId`), the others as Segment's `context.externalIds` entries. RowError for an
    id that does not look like one of its system (a Salesforce id has 15 or 18 letters and digits)."""
    known: dict[str, str] = {}
    listed: list[dict[str, str]] = []
    for field in [name for name in fields if name in EXTERNAL_FIELDS or name.startswith(EXTERNAL_PREFIX)]:
        raw = fields.pop(field)
        system = EXTERNAL_FIELDS.get(field) or field.removeprefix(EXTERNAL_PREFIX)
        ref = external_id(system, raw if isinstance(raw, str | int) else str(raw))
        if ref is None:
            what = {
                "salesforce": "a Salesforce id (15 or 18 letters and digits)",
                "hubspot": "a HubSpot id (digits)",
            }
            raise RowError(
                column_of.get(field, field),
                f"{str(raw)[:80]!r} is not {what.get(system, f'an id of {system}')}",
            )
        value = ref.value.split(":", 1)[1]
        if field in EXTERNAL_FIELDS:
            known[field] = value
        else:
            listed.append({"id": value, "type": system})
    return known, listed


def _column(columns: Mapping[str, str | None], field: str) -> str:
    return next((header for header, mapped in columns.items() if mapped == field), field)


def _json_field(kind: ImportKind, key: str) -> str | None:
    """A JSON Lines key the header pass never saw (keys vary by line): matched like a header."""
    return synonym(kind, key) or (key if _CUSTOM.match(key) else custom_name(key) or None)


def _clean(value: Any, column: str, *, parse_numbers: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return _text(value, column, parse_numbers=parse_numbers)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return _number(value, column)
    if isinstance(value, dict | list):
        text = json.dumps(value, default=str)
        if len(text) > 8000:
            raise RowError(column, "the value is nested or long beyond 8000 characters of JSON")
        return _decimals(value, column, depth=0)
    return str(value)


def _text(value: str, column: str, *, parse_numbers: bool) -> Any:
    text = value.strip()
    if not text:
        return None
    if len(text) > 2000:
        raise RowError(column, f"the value is {len(text)} characters long; at most 2000 are kept")
    if parse_numbers and _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    return text


def _number(value: float | Decimal, column: str) -> float:
    if isinstance(value, float) and not math.isfinite(value):
        raise RowError(column, "the number is not finite")
    if abs(float(value)) >= 1e15:
        raise RowError(column, "the number is too large (at most 15 digits)")
    return value if isinstance(value, int) else float(value)


def _decimals(value: Any, column: str, depth: int) -> Any:
    if depth > 8:
        raise RowError(column, "the value is nested more than 8 levels deep")
    if isinstance(value, dict):
        return {str(k): _decimals(v, column, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v, column, depth + 1) for v in value]
    if isinstance(value, float | int) and not isinstance(value, bool):
        return _clean(value, column, parse_numbers=True)
    return value


def parse_time(value: Any, column: str, now: datetime) -> datetime:
    """An event time: ISO 8601 (a date, or a date and time; UTC unless it says otherwise) or epoch
    seconds. Not in the future (a day of clock skew allowed), not before 1970."""
    if value is None:
        raise RowError(column, "the time is empty")
    moment: datetime | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise RowError(column, f"{value} is not a time (epoch seconds out of range)") from None
    else:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            try:
                moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
            except ValueError:
                raise RowError(
                    column,
                    f"{text[:40]!r} is not a time: write it as ISO 8601 (2025-03-14 or 2025-03-14T09:30:00Z)",
                ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise RowError(column, "the time lies outside the years 1 to 9999 in UTC") from None
    if moment < EARLIEST_EVENT_TIME:
        raise RowError(column, "the time is before 1970")
    if moment > now + timedelta(days=1):
        raise RowError(column, "the time is in the future")
    return moment
