"""Imports on moto, through the template's routes, queue and worker: idempotency, merges with anonymous
visitors, offline events scored as of their own time, error files, bad files refused clearly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customerdata_support import create, drain_imports, error_file, run_import, upload
from scoring_support import Stream, tracked

from leadstream.profiles import IdentityRef
from leadstream.store.profiles import profile_of
from leadstream_local.inprocess import Call
from leadstream_local.template import StackTemplate

CONTACTS = (
    b"E-mail,First Name,Last Name,Company,Favourite colour\n"
    b"ada@example.com,Ada,Lovelace,Analytical,green\n"
    b"grace@example.com,Grace,Hopper,Navy,blue\n"
    b"alan@example.com,Alan,Turing,Bletchley,\n"
)


@pytest.fixture
def token(token_for: Callable[..., str]) -> str:
    return token_for("marketing")


def test_contacts_import_creates_people_once(aws: StackTemplate, call_api: Call, token: str) -> None:
    first = run_import(aws, call_api, token, CONTACTS)
    assert first["status"] == "done"
    assert first["counts"] == {
        "rows": 3,
        "created": 3,
        "updated": 0,
        "merged": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    assert first["columns"] == {
        "E-mail": "email", "First Name": "firstName", "Last Name": "lastName", "Company": "company",
        "Favourite colour": "favouriteColour",
    }  # fmt: skip
    ada = profile_of(IdentityRef(kind="email", value="ada@example.com"))
    assert ada is not None
    assert ada.traits["firstName"] == "Ada"
    assert ada.traits["favouriteColour"] == "green"
    assert ada.stage == "subscriber"

    again = run_import(aws, call_api, token, CONTACTS, redeliver=True)
    assert again["counts"] == {
        "rows": 3,
        "created": 0,
        "updated": 0,
        "merged": 0,
        "unchanged": 3,
        "rejected": 0,
    }
    assert profile_of(IdentityRef(kind="email", value="ada@example.com")) == ada


def test_redelivered_steps_count_every_row_once(aws: StackTemplate, call_api: Call, token: str) -> None:
    rows = "".join(f"person{i}@example.com,P{i}\n" for i in range(12))
    job = run_import(aws, call_api, token, ("Email,First name\n" + rows).encode(), redeliver=True)
    assert job["counts"]["rows"] == 12
    assert job["counts"]["created"] == 12
    assert job["totalRows"] == 12
    assert job["progress"] == 1.0


def test_a_row_with_an_anonymous_visitors_id_merges_into_their_profile(
    aws: StackTemplate, call_api: Call, token: str
) -> None:
    Stream(aws, store_events=True).deliver([tracked("page", anonymousId="visitor-7", name="Pricing")])
    anonymous = profile_of(IdentityRef(kind="anon", value="visitor-7"))
    assert anonymous is not None
    assert not anonymous.is_known
    job = run_import(aws, call_api, token, b"Email,Anonymous ID,Name\nvera@example.com,visitor-7,Vera\n")
    assert job["counts"]["merged"] == 1
    vera = profile_of(IdentityRef(kind="email", value="vera@example.com"))
    assert vera is not None
    assert vera.profile_id == anonymous.profile_id  # the visitor's own profile, now known
    assert vera.traits["name"] == "Vera"


def test_bad_rows_are_reported_row_by_row_and_good_rows_kept(
    aws: StackTemplate, call_api: Call, token: str
) -> None:
    content = (
        b"Email,Name\n"
        b"ok@example.com,Fine\n"
        b"not-an-address,Broken\n"
        b",Nobody\n"
        b"also-ok@example.com,Fine too,extra cell\n"
        b"=cmd@example.com,Formula\n"
    )
    job = run_import(aws, call_api, token, content)
    assert job["status"] == "done"
    assert job["counts"]["created"] == 2
    assert job["counts"]["rejected"] == 3
    assert job["errorFileUrl"]
    lines = error_file(aws, job["importId"]).splitlines()
    assert lines[0] == "row,column,reason"
    assert lines[1] == "3,Email,'not-an-address' is not an email address"
    assert lines[2] == "4,Email,the email is empty"
    assert lines[3] == "5,,the row has 3 cells and the header 2 columns"


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"Name,Company\nAda,Analytical\n", 422, "no email column"),
        (b"\xff\xfeE\x00m\x00", 422, "UTF-16"),
        (b"PK\x03\x04binary", 422, "workbook"),
        (b"", 422, "empty"),
        (b"\n\nEmail\n", 422, "first line"),
    ],
)
def test_unreadable_files_are_refused_with_what_to_fix(
    aws: StackTemplate, call_api: Call, token: str, content: bytes, status: int, message: str
) -> None:
    reply = create(call_api, token, {"kind": "contacts", "fileName": "x.csv", "size": max(len(content), 1)})
    import_id = reply.json()["import"]["importId"]
    upload(aws, import_id, content)
    started = call_api("POST", f"/marketing/imports/{import_id}/start", token=token)
    assert started.status == status
    assert started.headers["content-type"] == "application/problem+json"
    assert message in started.json()["detail"]


def test_latin1_and_bom_files_are_read(aws: StackTemplate, call_api: Call, token: str) -> None:
    latin = "Email,Name\nzoe@example.com,Zoë Ångström\n".encode("latin-1")
    job = run_import(aws, call_api, token, latin)
    assert job.get("encoding", True)
    zoe = profile_of(IdentityRef(kind="email", value="zoe@example.com"))
    assert zoe is not None
    assert zoe.traits["name"] == "Zoë Ångström"
    bom = "\ufeffEmail,Name\nbo@example.com,Bö\n".encode()
    run_import(aws, call_api, token, bom)
    bo = profile_of(IdentityRef(kind="email", value="bo@example.com"))
    assert bo is not None
    assert bo.traits["name"] == "Bö"


def test_oversize_files_are_refused(aws: StackTemplate, call_api: Call, token: str) -> None:
    reply = create(call_api, token, {"kind": "contacts", "fileName": "big.csv", "size": 10**12})
    assert reply.status == 413
    assert "split it" in reply.json()["detail"]


def test_starting_before_the_upload_is_a_conflict_and_nothing_is_queued(
    aws: StackTemplate, call_api: Call, token: str
) -> None:
    reply = create(call_api, token, {"kind": "contacts", "fileName": "x.csv", "size": 10})
    import_id = reply.json()["import"]["importId"]
    started = call_api("POST", f"/marketing/imports/{import_id}/start", token=token)
    assert started.status == 409
    assert drain_imports(aws) == 0


def test_offline_events_keep_their_time_and_are_scored_as_of_then(
    aws: StackTemplate, call_api: Call, token: str, stored_events: Callable[[], list[Any]]
) -> None:
    now = datetime.now(UTC)
    month_ago = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    today = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    content = (
        "Email,Event,Timestamp,Asset,Amount\n"
        f"old@example.com,Content Downloaded,{month_ago},whitepaper,49.90\n"
        f"new@example.com,Content Downloaded,{today},whitepaper,49.90\n"
    ).encode()
    job = run_import(aws, call_api, token, content, kind="events", file_name="offline.csv")
    assert job["counts"]["created"] == 2
    (old_event,) = [
        e for e in stored_events() if e.context.get("traits", {}).get("email") == "old@example.com"
    ]
    assert old_event.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ") == month_ago
    assert old_event.properties == {"asset": "whitepaper", "amount": 49.9}
    old = profile_of(IdentityRef(kind="email", value="old@example.com"))
    new = profile_of(IdentityRef(kind="email", value="new@example.com"))
    assert old is not None
    assert new is not None
    # The default rule gives 40 points; a month-old download has decayed through one 30-day half-life.
    assert new.score.engagement_at(now) == pytest.approx(40, rel=0.01)
    assert old.score.engagement_at(now) == pytest.approx(20, rel=0.01)
    assert "engaged:content" in old.tags

    again = run_import(aws, call_api, token, content, kind="events", file_name="offline.csv")
    assert again["counts"]["unchanged"] == 2
    assert profile_of(IdentityRef(kind="email", value="old@example.com")) == old  # not scored twice


def test_events_as_json_lines(aws: StackTemplate, call_api: Call, token: str) -> None:
    lines = (
        b'{"email": "jl@example.com", "event": "Order Completed", "timestamp": "2025-06-01T10:00:00Z",'
        b' "properties": {"total": 12.5, "items": [{"sku": "A"}]}}\n'
        b"\n"
        b"not json\n"
        b'{"userId": "u-9", "event": "Order Completed", "timestamp": "2999-01-01"}\n'
        b"[1, 2]\n"
    )
    job = run_import(aws, call_api, token, lines, kind="events", file_name="orders.jsonl")
    assert job["counts"]["created"] == 1
    assert job["counts"]["rejected"] == 3
    errors = error_file(aws, job["importId"]).splitlines()
    assert errors[1].startswith("3,,the line is not JSON")
    assert errors[2] == "4,Timestamp,the time is in the future" or errors[2].startswith("4,")
    assert errors[3] == "5,,the line is JSON but not an object"


def test_a_dry_run_counts_and_writes_nothing(
    aws: StackTemplate, call_api: Call, token: str, stored_events: Callable[[], list[Any]]
) -> None:
    job = run_import(aws, call_api, token, CONTACTS, dryRun=True)
    assert job["counts"]["created"] == 3
    assert stored_events() == []
    assert profile_of(IdentityRef(kind="email", value="ada@example.com")) is None


def test_a_mapping_names_columns_and_skips_others(aws: StackTemplate, call_api: Call, token: str) -> None:
    content = b"Courriel,Societe,Notes\nmap@example.com,ACME,private\n"
    job = run_import(
        aws, call_api, token, content, mapping={"Courriel": "email", "Societe": "company", "Notes": None}
    )
    assert job["columns"] == {"Courriel": "email", "Societe": "company", "Notes": None}
    person = profile_of(IdentityRef(kind="email", value="map@example.com"))
    assert person is not None
    assert person.traits["company"] == "ACME"
    assert "notes" not in person.traits
    reply = create(
        call_api, token, {"kind": "contacts", "fileName": "x.csv", "size": 5, "mapping": {"Nope": "email"}}
    )
    import_id = reply.json()["import"]["importId"]
    upload(aws, import_id, content)
    started = call_api("POST", f"/marketing/imports/{import_id}/start", token=token)
    assert started.status == 422
    assert "'Nope'" in started.json()["detail"]


def test_a_first_line_without_end_is_refused_without_reading_the_file(
    aws: StackTemplate, call_api: Call, token: str
) -> None:
    content = b"Email," + b"x" * 600_000
    reply = create(call_api, token, {"kind": "contacts", "fileName": "x.csv", "size": len(content)})
    import_id = reply.json()["import"]["importId"]
    upload(aws, import_id, content)
    started = call_api("POST", f"/marketing/imports/{import_id}/start", token=token)
    assert started.status == 422
    assert "first line is longer" in started.json()["detail"]


def test_rows_match_people_by_their_ids_in_other_systems(
    aws: StackTemplate, call_api: Call, token: str
) -> None:
    """A person the CRM sync knows by a Salesforce id (under another address) is the one a row with that id
    updates; an offline event named only by a HubSpot id lands on the person known by it."""
    stream = Stream(aws, store_events=True)
    stream.deliver(
        [
            tracked(
                "identify",
                userId="u-1",
                traits={"email": "kim@old.example", "salesforceId": "0035e00000AbCdEFGH"},
            )
        ]
    )
    stream.deliver(
        [tracked("identify", userId="u-2", traits={"email": "lee@example.com", "hubspotId": "4711"})]
    )
    kim = profile_of(IdentityRef(kind="ext", value="salesforce:0035e00000AbCdEFGH"))
    assert kim is not None

    contacts = (
        b"Email,Salesforce ID,First Name\n"
        b"kim@new.example,0035e00000AbCdEFGH,Kim\n"
        b"bad@example.com,003-nope,X\n"
    )
    job = run_import(aws, call_api, token, contacts)
    assert job["columns"] == {"Email": "email", "Salesforce ID": "salesforceId", "First Name": "firstName"}
    assert (job["counts"]["created"], job["counts"]["updated"], job["counts"]["rejected"]) == (0, 1, 1)
    assert "is not a Salesforce id" in error_file(aws, job["importId"])
    joined = profile_of(IdentityRef(kind="email", value="kim@new.example"))
    assert joined is not None
    assert joined.profile_id == kim.profile_id
    assert joined.traits["firstName"] == "Kim"

    events = b"HubSpot ID,Event,Order Date,Total\n4711,Order Completed,2026-01-10,99.5\n"
    job = run_import(aws, call_api, token, events, kind="events", file_name="pos.csv")
    assert (job["counts"]["rows"], job["counts"]["rejected"]) == (1, 0)
    lee = profile_of(IdentityRef(kind="email", value="lee@example.com"))
    assert lee is not None
    assert "Order Completed" in lee.activity  # the order counted on Lee's profile
    again = run_import(aws, call_api, token, events, kind="events", file_name="pos.csv")
    assert again["counts"]["unchanged"] == 1
