"""Field types and shapes every CRM resource shares: ids, names, custom fields, pages, problems.

Input models derive from `CrmInput` (unknown fields are refused, so a typo is a 422 that names it, not a
silently ignored field); stored and returned records derive from crm.records.CrmRecord.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from crm.records import HistoryEntry
from leadstream.models import Model
from leadstream.numbers import STORABLE_NUMBERS

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Record ids (server-made UUIDs, or slugs for pipelines) and user ids (Cognito `sub`).
RecordId = Annotated[str, StringConstraints(pattern=ID_PATTERN), Field(examples=["0b6f2c1e-5d0a-4c53"])]
UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9@._-]{1,128}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"), Field(examples=["proposal"])]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
    Field(examples=["ada@example.com"]),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[0-9+()./ x-]*$")]
CountryCode = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    Field(description="ISO 3166-1 alpha-2, e.g. DE"),
]

# --- custom fields: up to 200 per record, no schema change needed -------------------------------------
MAX_CUSTOM_FIELDS = 200
MAX_CUSTOM_FIELDS_BYTES = 64 * 1024  # keeps a record and its history entries far below DynamoDB's 400 KB
CUSTOM_FIELD_KEY = r"^[a-z][A-Za-z0-9_]{0,63}$"
CustomFieldKey = Annotated[str, StringConstraints(pattern=CUSTOM_FIELD_KEY)]
# A number is checked before the union picks a member: one DynamoDB cannot hold is refused at its field
# (`customFields.seats`) instead of being read as the float nearest to it.
CustomValue = Annotated[
    Annotated[str, StringConstraints(max_length=2000)]
    | bool
    | int
    | Annotated[float, Field(allow_inf_nan=False)],
    STORABLE_NUMBERS,
]


def _bounded_custom_fields[T: Mapping[str, Any]](fields: T) -> T:
    if len(fields) > MAX_CUSTOM_FIELDS:
        raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields per record (got {len(fields)})")
    size = len(json.dumps(fields, separators=(",", ":"), default=str).encode())
    if size > MAX_CUSTOM_FIELDS_BYTES:
        raise ValueError(f"custom fields take {size} bytes; the limit is {MAX_CUSTOM_FIELDS_BYTES}")
    return fields


CustomFields = Annotated[
    dict[CustomFieldKey, CustomValue],
    AfterValidator(_bounded_custom_fields),
    Field(
        description=(
            f"Up to {MAX_CUSTOM_FIELDS} fields named like `renewalRisk` (a letter, then letters, digits "
            "or _), each a string (up to 2000 characters), number or boolean. A number has at most 38 "
            "significant digits and, unless 0, a magnitude from 1E-130 to below 1E+126."
        ),
        examples=[{"region": "EMEA", "seats": 250}],
    ),
]
# In a PATCH, a custom field set to null is removed (JSON merge patch).
CustomFieldsPatch = Annotated[
    dict[CustomFieldKey, CustomValue | None],
    AfterValidator(_bounded_custom_fields),
    Field(description="Custom fields to set; a field set to null is removed."),
]


def _valid_text(value: Any) -> Any:
    """Refuse strings that cannot be stored: JSON allows lone surrogates ("\\ud800"), UTF-8 does not."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (it holds a lone surrogate)") from None
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            _valid_text(key)
            _valid_text(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            _valid_text(inner)
    return value


class CrmInput(Model):
    """A request body. Unknown fields are refused; names are camelCase."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return _valid_text(value)


class HistoryPage(Model):
    model_config = ConfigDict(populate_by_name=True)

    items: list[HistoryEntry] = Field(description="the record's changes, newest first")
    next_cursor: str | None = Field(default=None, alias="nextCursor")
