"""External ids in imports: Salesforce and HubSpot columns, `ext:<system>` mappings, checked per row."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from customerdata.imports import MappingRefused, RowError, map_columns, row_event
from scoring.identity import externals_of

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SF = "0035e00000AbCdEFGH"


def test_headers_of_other_systems_ids_are_matched() -> None:
    columns = map_columns(
        "contacts",
        ["Email", "Salesforce ID", "hubspot_id", "SFDC Id", "Zoho"],
        {"Zoho": "ext:zoho", "SFDC Id": None},
    )
    assert columns == {
        "Email": "email",
        "Salesforce ID": "salesforceId",
        "hubspot_id": "hubspotId",
        "SFDC Id": None,
        "Zoho": "ext:zoho",
    }
    with pytest.raises(MappingRefused, match="all map to salesforceId"):
        map_columns("contacts", ["Email", "Salesforce ID", "sfdc_id"])
    with pytest.raises(MappingRefused, match="ext:<system>"):
        map_columns("contacts", ["Email", "Zoho"], {"Zoho": "ext:Zoho CRM"})


def test_a_contact_row_carries_its_ids_as_identities() -> None:
    columns = {"Email": "email", "Salesforce ID": "salesforceId", "HubSpot": "hubspotId", "Zoho": "ext:zoho"}
    event = row_event(
        "contacts",
        {"Email": "Ada@Example.com", "Salesforce ID": SF, "HubSpot": " 1234 ", "Zoho": "z-9"},
        columns,
        now=NOW,
    )
    assert event.traits == {"email": "ada@example.com", "salesforceId": SF, "hubspotId": "1234"}
    assert event.context["externalIds"] == [{"id": "z-9", "type": "zoho"}]
    assert sorted(ref.value for ref in externals_of(event)) == [
        "hubspot:1234",
        f"salesforce:{SF}",
        "zoho:z-9",
    ]


def test_an_event_row_may_name_its_person_by_an_id_of_another_system_alone() -> None:
    columns = {"HubSpot ID": "hubspotId", "Event": "event", "Date": "timestamp", "Total": "total"}
    row = {"HubSpot ID": "987", "Event": "Order Completed", "Date": "2026-05-01", "Total": "12.5"}
    event = row_event("events", row, columns, now=NOW)
    assert event.properties == {"total": 12.5}
    assert event.context["traits"] == {"hubspotId": "987"}
    assert [ref.value for ref in externals_of(event)] == ["hubspot:987"]
    assert event.anonymous_id is not None
    assert event.anonymous_id.startswith("imported-")
    again = row_event("events", row, columns, now=NOW)
    assert (again.message_id, again.anonymous_id) == (event.message_id, event.anonymous_id)
    other = row_event("events", {**row, "HubSpot ID": "988"}, columns, now=NOW)
    assert other.message_id != event.message_id
    assert other.anonymous_id != event.anonymous_id


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("Salesforce ID", "003-not-an-id", "is not a Salesforce id"),
        ("Salesforce ID", "=HYPERLINK(1)", "is not a Salesforce id"),
        ("HubSpot", "12a", "is not a HubSpot id"),
        ("Zoho", "bad\u0000id", "is not an id of zoho"),
    ],
)
def test_an_id_that_is_not_one_rejects_its_row(column: str, value: str, says: str) -> None:
    columns = {"Email": "email", "Salesforce ID": "salesforceId", "HubSpot": "hubspotId", "Zoho": "ext:zoho"}
    with pytest.raises(RowError) as raised:
        row_event("contacts", {"Email": "a@example.com", column: value}, columns, now=NOW)
    assert raised.value.column == column
    assert says in raised.value.reason


def test_rows_without_external_ids_keep_their_message_ids() -> None:
    """Rows imported before external ids existed are the same events when imported again."""
    columns = {"Email": "email", "Event": "event", "Date": "timestamp"}
    event = row_event(
        "events", {"Email": "a@example.com", "Event": "Bought", "Date": "2026-05-01"}, columns, now=NOW
    )
    assert (
        event.message_id
        == "import-"
        + hashlib.sha256(
            json.dumps(
                [
                    "events",
                    "a@example.com",
                    None,
                    event.anonymous_id,
                    "Bought",
                    {},
                    {},
                    "2026-05-01T00:00:00+00:00",
                ],
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()[:40]
    )
