"""The event catalog's schemas and docs/events.md: every type documented with a valid example and the
schema its events are checked against, and the page written from the code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from integrations import catalog
from integrations.events_doc import example, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_page_is_written_from_the_code() -> None:
    # To refresh it: cd functions && python -m integrations.events_doc ../docs/events.md
    assert DOC.read_text() == render()


@pytest.mark.parametrize("type_", list(catalog.EVENT_TYPES))
def test_every_type_has_a_schema_its_example_matches(type_: str) -> None:
    schema = catalog.schema_of(type_)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(example(type_), schema)
    assert f"### `{type_}`" in DOC.read_text()


def test_a_detail_that_breaks_the_schema_is_refused() -> None:
    detail = example("deal.won")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**detail, "type": "deal.lost"}, catalog.schema_of("deal.won"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**detail, "extra": 1}, catalog.schema_of("deal.won"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**detail, "id": "evt_short"}, catalog.schema_of("deal.won"))


WHEN = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_ids_are_stable_and_differ_per_change() -> None:
    old = {"version": 1, "stageId": "intro", "pipelineId": "standard", "outcome": "open", "amount": 5}
    new = {**old, "version": 2, "stageId": "won", "outcome": "won"}
    keys = {"pk": "DEAL#d-1", "sk": "DEAL"}
    first = catalog.derive("MODIFY", keys, old, new, WHEN)
    again = catalog.derive("MODIFY", keys, old, new, WHEN)
    assert [event.type for event in first] == ["deal.updated", "deal.stage_changed", "deal.won"]
    assert [event.id for event in first] == [event.id for event in again]
    assert len({event.id for event in first}) == 3
    later = catalog.derive("MODIFY", keys, new, {**new, "version": 3, "name": "x"}, WHEN)
    assert [event.type for event in later] == ["deal.updated"]
    assert later[0].id not in {event.id for event in first}


@pytest.mark.parametrize(
    ("name", "keys", "old", "new"),
    [
        ("REMOVE", {"pk": "DEAL#d-1", "sk": "DEAL"}, {"version": 1}, None),
        ("MODIFY", {"pk": "DEAL#d-1", "sk": "DEAL"}, {"version": 2}, {"version": 2}),  # not a new version
        ("INSERT", {"pk": "DEAL#d-1", "sk": "HISTORY#0000000001"}, None, {"action": "created"}),
        ("INSERT", {"pk": "CATALOG#evt_x", "sk": "PUBLISHED"}, None, {"ttl": 1}),
        ("MODIFY", {"pk": "PROFILE#p-1", "sk": "PROFILE"}, {"version": 1}, {"mergedInto": "p-2"}),
        ("MODIFY", {"pk": "SEND#m-1", "sk": "SEND"}, {"bouncedAt": "t"}, {"bouncedAt": "t", "openedAt": "u"}),
        ("INSERT", {"pk": "WEBHOOK#w-1", "sk": "DELIVERY#evt_x"}, None, {"status": "pending"}),
    ],
)
def test_changes_that_are_not_business_events_publish_nothing(
    name: str, keys: dict[str, str], old: dict[str, object] | None, new: dict[str, object] | None
) -> None:
    assert catalog.derive(name, keys, old, new, WHEN) == []


def test_personal_fields_are_named_but_their_values_never_travel() -> None:
    old = {"version": 1, "email": "a@x.io", "phone": "+1", "ownerId": "u-1"}
    new = {"version": 2, "email": "b@x.io", "phone": "+2", "ownerId": "u-2"}
    [event] = catalog.derive("MODIFY", {"pk": "CONTACT#c-1", "sk": "CONTACT"}, old, new, WHEN)
    assert event.data["changedFields"] == ["email", "ownerId", "phone"]
    assert event.data["changes"] == [{"field": "ownerId", "before": "u-1", "after": "u-2"}]
    assert "x.io" not in repr(event.detail())
