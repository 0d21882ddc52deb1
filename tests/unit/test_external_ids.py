"""External identities: which values on an event name accounts in other systems, and how they are kept."""

from __future__ import annotations

from typing import Any

import pytest

from scoring.external_ids import external_id, external_identities


def values(context: dict[str, Any], traits: dict[str, Any]) -> list[str]:
    return [ref.value for ref in external_identities(context, traits)]


def test_segment_external_ids_and_known_traits_become_identities() -> None:
    context = {"externalIds": [{"id": "003A", "type": "Salesforce_Contact_Id", "collection": "users"}]}
    traits = {
        "linkedin": "https://www.linkedin.com/in/Grace-Hopper/",
        "twitter": "@GraceH",
        "salesforce_id": "0031x00000ABCDE",
        "hubspotId": 12345,
        "email": "g@x.io",
    }
    assert values(context, traits) == [
        "salesforce_contact_id:003A",
        "linkedin:grace-hopper",
        "x:graceh",
        "salesforce:0031x00000ABCDE",
        "hubspot:12345",
    ]
    assert all(ref.kind == "ext" and ref.is_known for ref in external_identities(context, traits))


@pytest.mark.parametrize(
    "traits",
    [
        {"salesforceId": "too-short"},
        {"salesforceId": "0031x00000ABCDE!"},
        {"hubspotId": "12a"},
        {"hubspotId": True},
        {"twitter": "not a handle!"},
        {"linkedin": "https://example.com/in/x"},
        {"x": "5"},  # a trait merely named x is not a handle
        {"twitter": None},
        {"linkedin": {"nested": "object"}},
        {"salesforceId": "A" * 500},
    ],
)
def test_values_that_do_not_look_like_what_they_claim_are_ignored(traits: dict[str, Any]) -> None:
    assert values({}, traits) == []


@pytest.mark.parametrize(
    "entries",
    [
        "not a list",
        [None, 5, "x", {"id": "1"}, {"type": "crm"}, {"id": "1", "type": "bad type!"}],
        [{"id": "x" * 201, "type": "crm"}, {"id": "\x00", "type": "crm"}, {"id": True, "type": "crm"}],
    ],
)
def test_malformed_external_ids_are_ignored(entries: Any) -> None:
    assert values({"externalIds": entries}, {}) == []


def test_at_most_ten_per_event_each_once() -> None:
    entries = [{"id": str(number % 12), "type": "crm"} for number in range(40)]
    found = values({"externalIds": entries}, {})
    assert len(found) == len(set(found)) == 10


def test_an_import_names_an_account_the_same_way() -> None:
    assert (
        external_id("salesforce", "0031x00000ABCDE")
        == external_identities({}, {"salesforceId": "0031x00000ABCDE"})[0]
    )
    linked = external_id("linkedin", "linkedin.com/in/Ada")
    assert linked is not None
    assert linked.value == "linkedin:ada"
    custom = external_id("erp", "C-42")
    assert custom is not None
    assert custom.value == "erp:C-42"
    assert external_id("salesforce", "nope") is None
