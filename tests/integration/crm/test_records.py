"""The standard record routes, through accounts and contacts: create, read, merge patch, conditional writes
(412, 428), delete, history, custom fields, unique values, lists with filters and cursors."""

from __future__ import annotations

from typing import Any

import pytest
from crm_support import Crm


def test_create_returns_the_record_with_its_version_as_etag_and_location(sales: Crm) -> None:
    reply = sales.post(
        "/crm/accounts", {"name": "Acme", "industry": "Tools", "customFields": {"region": "EMEA"}}
    )

    assert reply.status == 201
    account = reply.json()
    assert account["version"] == 1
    assert reply.headers["etag"] == '"1"'
    assert reply.headers["location"] == f"/crm/accounts/{account['accountId']}"
    assert account["ownerId"] == account["createdBy"]  # the creator owns it unless told otherwise
    shown = sales.ok(sales.get(f"/crm/accounts/{account['accountId']}"))
    # The GET of one account adds what the closed loop keeps (read-only, not part of the record).
    assert shown.pop("engagement") == {"people": 0, "summed": 0.0, "top": []}
    assert shown.pop("revenue") == {}
    assert account.pop("engagement") is None
    assert account.pop("revenue") is None
    assert shown == account


def test_patch_is_a_merge_patch_that_needs_the_current_etag(sales: Crm) -> None:
    account = sales.created(
        "/crm/accounts", {"name": "Acme", "phone": "+1 555", "customFields": {"a": 1, "b": "x"}}
    )
    path = f"/crm/accounts/{account['accountId']}"

    reply = sales.patch(path, {"phone": None, "customFields": {"a": None, "c": True}}, if_match='"1"')

    assert reply.status == 200
    assert reply.headers["etag"] == '"2"'
    changed = reply.json()
    assert changed["phone"] is None
    assert changed["customFields"] == {"b": "x", "c": True}
    assert changed["name"] == "Acme"


def test_a_stale_if_match_is_412_and_changes_nothing(sales: Crm) -> None:
    account = sales.created("/crm/accounts", {"name": "Acme"})
    path = f"/crm/accounts/{account['accountId']}"
    sales.ok(sales.patch(path, {"industry": "Tools"}, if_match='"1"'))

    stale_patch = sales.patch(path, {"industry": "Toys"}, if_match='"1"')
    stale_delete = sales.delete(path, if_match='"1"')

    assert stale_patch.status == 412
    assert stale_patch.headers["content-type"] == "application/problem+json"
    assert stale_delete.status == 412
    current = sales.ok(sales.get(path))
    assert (current["version"], current["industry"]) == (2, "Tools")


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_change_without_if_match_is_428(sales: Crm, method: str) -> None:
    account = sales.created("/crm/accounts", {"name": "Acme"})

    reply = sales.request(method, f"/crm/accounts/{account['accountId']}", {"industry": "Tools"})

    assert reply.status == 428
    assert "If-Match" in reply.json()["detail"]


def test_if_match_star_and_weak_tags(sales: Crm) -> None:
    account = sales.created("/crm/accounts", {"name": "Acme"})
    path = f"/crm/accounts/{account['accountId']}"

    assert sales.patch(path, {"industry": "A"}, if_match='W/"1"').status == 412  # If-Match compares strongly
    assert sales.patch(path, {"industry": "A"}, if_match="*").status == 200


def test_concurrent_writers_cannot_both_win(sales: Crm, crm_as: Any) -> None:
    """Two reps read version 1 and both save: the second is refused (the lost update never happens)."""
    other = crm_as("sales", "otto")
    account = sales.created("/crm/accounts", {"name": "Acme"})
    path = f"/crm/accounts/{account['accountId']}"

    first = sales.patch(path, {"industry": "Tools"}, if_match='"1"')
    second = other.patch(path, {"industry": "Toys"}, if_match='"1"')

    assert (first.status, second.status) == (200, 412)
    assert sales.ok(sales.get(path))["industry"] == "Tools"


def test_delete_and_history_that_outlives_the_record(sales: Crm) -> None:
    account = sales.created("/crm/accounts", {"name": "Acme", "customFields": {"tier": 1}})
    path = f"/crm/accounts/{account['accountId']}"
    sales.ok(sales.patch(path, {"name": "Acme Inc", "customFields": {"tier": 2}}, if_match='"1"'))

    deleted = sales.delete(path, if_match='"2"')

    assert deleted.status == 204
    assert sales.get(path).status == 404
    history = sales.ok(sales.get(f"{path}/history"))["items"]
    assert [(entry["version"], entry["action"]) for entry in history] == [
        (3, "deleted"),
        (2, "updated"),
        (1, "created"),
    ]
    update = history[1]
    assert update["by"] == account["createdBy"]
    assert {(c["field"], c["before"], c["after"]) for c in update["changes"]} == {
        ("name", "Acme", "Acme Inc"),
        ("customFields.tier", 1, 2),
    }


def test_an_account_with_contacts_is_not_deleted(sales: Crm) -> None:
    account = sales.created("/crm/accounts", {"name": "Acme"})
    contact = sales.created("/crm/contacts", {"lastName": "Lovelace", "accountId": account["accountId"]})

    refused = sales.delete(f"/crm/accounts/{account['accountId']}", if_match='"1"')
    sales.delete(f"/crm/contacts/{contact['contactId']}", if_match='"1"')
    deleted = sales.delete(f"/crm/accounts/{account['accountId']}", if_match='"1"')

    assert refused.status == 409
    assert "contacts" in refused.json()["detail"]
    assert deleted.status == 204


def test_a_patch_that_changes_nothing_keeps_the_version(sales: Crm) -> None:
    account = sales.created("/crm/accounts", {"name": "Acme"})
    path = f"/crm/accounts/{account['accountId']}"

    reply = sales.patch(path, {"name": "Acme"}, if_match='"1"')

    assert reply.headers["etag"] == '"1"'
    assert len(sales.ok(sales.get(f"{path}/history"))["items"]) == 1


def test_invalid_input_names_each_field_to_fix(sales: Crm) -> None:
    reply = sales.post(
        "/crm/accounts",
        {"name": "", "employees": -1, "customFields": {"9bad": 1}, "colour": "red"},
    )

    assert reply.status == 422
    problem = reply.json()
    assert problem["status"] == 422
    assert {error["field"] for error in problem["errors"]} >= {
        "name",
        "employees",
        "customFields.9bad.[key]",
        "colour",
    }


def test_two_hundred_custom_fields_fit_without_a_schema_change(sales: Crm) -> None:
    fields = {f"field{number}": f"value {number}" for number in range(200)}

    account = sales.created("/crm/accounts", {"name": "Wide", "customFields": fields})

    assert account["customFields"] == fields
    too_many = sales.post("/crm/accounts", {"name": "Wider", "customFields": {**fields, "oneMore": 1}})
    assert too_many.status == 422


def test_a_parent_must_exist_and_not_make_a_cycle(sales: Crm) -> None:
    parent = sales.created("/crm/accounts", {"name": "Group"})
    child = sales.created("/crm/accounts", {"name": "Subsidiary", "parentId": parent["accountId"]})

    cycle = sales.patch(
        f"/crm/accounts/{parent['accountId']}", {"parentId": child["accountId"]}, if_match='"1"'
    )
    missing = sales.post("/crm/accounts", {"name": "Orphan", "parentId": "no-such-account"})

    assert cycle.status == 422
    assert missing.status == 422
    children = sales.ok(sales.get("/crm/accounts", query=f"parentId={parent['accountId']}"))["items"]
    assert [account["accountId"] for account in children] == [child["accountId"]]


def test_a_contacts_email_is_unique_and_can_move(sales: Crm) -> None:
    first = sales.created("/crm/contacts", {"lastName": "Lovelace", "email": "Ada@Example.com"})

    duplicate = sales.post("/crm/contacts", {"lastName": "Byron", "email": "ada@example.com"})
    sales.ok(sales.patch(f"/crm/contacts/{first['contactId']}", {"email": "ada@new.example"}, if_match='"1"'))
    reused = sales.post("/crm/contacts", {"lastName": "Byron", "email": "ada@example.com"})

    assert first["email"] == "ada@example.com"
    assert duplicate.status == 409
    assert duplicate.json()["errors"] == [
        {"field": "email", "message": f"already used by contact {first['contactId']}"}
    ]
    assert reused.status == 201  # the old address was released with the change


def test_a_contacts_account_must_exist(sales: Crm) -> None:
    reply = sales.post("/crm/contacts", {"lastName": "Nobody", "accountId": "missing"})

    assert reply.status == 422
    assert reply.json()["errors"] == [{"field": "accountId", "message": "no account missing"}]


def test_lists_page_with_a_cursor_newest_first(sales: Crm) -> None:
    names = [f"Account {number}" for number in range(5)]
    for name in names:
        sales.created("/crm/accounts", {"name": name})

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = sales.ok(sales.get("/crm/accounts", query=query))
        seen += [account["name"] for account in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break

    assert seen == names[::-1]


def test_lists_filter_by_owner_account_and_field(sales: Crm, crm_as: Any) -> None:
    other = crm_as("sales", "otto")
    acme = sales.created("/crm/accounts", {"name": "Acme"})
    sales.created("/crm/contacts", {"lastName": "Mine", "accountId": acme["accountId"], "email": "m@x.io"})
    sales.created("/crm/contacts", {"lastName": "Other", "accountId": acme["accountId"]})
    other.created("/crm/contacts", {"lastName": "Theirs"})

    def names(query: str) -> list[str]:
        return sorted(
            contact["lastName"] for contact in sales.ok(sales.get("/crm/contacts", query=query))["items"]
        )

    assert names("ownerId=me") == ["Mine", "Other"]
    assert names(f"accountId={acme['accountId']}") == ["Mine", "Other"]
    assert names(f"accountId={acme['accountId']}&email=m@x.io") == ["Mine"]
    assert names("") == ["Mine", "Other", "Theirs"]


def test_created_date_range(sales: Crm) -> None:
    sales.created("/crm/accounts", {"name": "Today"})

    today = sales.ok(sales.get("/crm/accounts"))["items"][0]["createdAt"][:10]
    within = sales.ok(sales.get("/crm/accounts", query=f"createdFrom={today}&createdTo={today}"))["items"]
    before = sales.ok(sales.get("/crm/accounts", query="createdTo=2000-01-01"))["items"]

    assert [account["name"] for account in within] == ["Today"]
    assert before == []


def test_an_unknown_filter_is_refused_not_ignored(sales: Crm) -> None:
    reply = sales.get("/crm/contacts", query="titel=CTO")

    assert reply.status == 422
    assert reply.json()["errors"] == [{"field": "query.titel", "message": "unknown parameter"}]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        "eyJwayI6IHsiUyI6ICJ4In19",  # {"pk": {"S": "x"}}: not a key of this list
    ],
)
def test_a_foreign_or_broken_cursor_is_400(sales: Crm, cursor: str) -> None:
    reply = sales.get("/crm/accounts", query=f"cursor={cursor}")

    assert reply.status == 400
    assert "cursor" in reply.json()["detail"]


def test_an_unknown_record_is_404_problem(sales: Crm) -> None:
    reply = sales.get("/crm/accounts/does-not-exist")

    assert reply.status == 404
    assert reply.headers["content-type"] == "application/problem+json"
