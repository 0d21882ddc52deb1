"""Exports on moto, through the template's routes, queue and worker: a segment or a CRM list to CSV in
parts (memory flat: one page and one part at a time), columns checked, filters as the list routes read
them, roles, bad input, and a step that dies or runs twice never writing a row twice."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import boto3
import moto.s3.models
import pytest
from customerdata_support import bucket, drain_imports, take

from audience.definitions import get as get_segment
from audience.membership import run_backfill_page
from customerdata import exporter
from customerdata.store import exportjobs
from leadstream.profiles import IdentityRef, Profile
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_put
from leadstream.store.profiles import profile_item
from leadstream_local.inprocess import Call
from leadstream_local.template import StackTemplate

GERMANY = {"type": "trait", "path": "country", "op": "eq", "value": "germany"}


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 7 members and parts of 1 byte: every page ends a part, so a few dozen people make
    several parts (moto is told to take parts under S3's 5 MiB minimum)."""
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1)
    monkeypatch.setenv("EXPORT_PAGE_ROWS", "7")
    monkeypatch.setenv("EXPORT_PART_BYTES", "1")


def person(number: int, **traits: Any) -> Profile:
    email = f"p{number:03d}@example.com"
    profile = Profile.model_validate(
        {
            "profileId": f"prof-{number:03d}",
            "version": 1,
            "email": email,
            "traits": {"country": "germany", "firstName": f"First{number}", "email": email, **traits},
            "tags": ["interest:pricing"],
        }
    )
    profile.add_identity(IdentityRef(kind="email", value=email))
    return profile


def segment_of(call_api: Call, token: str, people: list[Profile]) -> str:
    """A segment of `people` (Germans), filled by its backfill as in production."""
    batch_put(get_settings().main_table, [profile_item(profile) for profile in people])
    created = call_api("POST", "/marketing/segments", body={"name": "DE", "condition": GERMANY}, token=token)
    assert created.status == 201, created.json()
    segment_id = str(created.json()["segmentId"])
    page = 0
    while not get_segment(segment_id).backfill.done:  # type: ignore[union-attr]
        run_backfill_page(segment_id, 1, page)
        page += 1
    return segment_id


def csv_file(stack: StackTemplate, job: dict[str, Any]) -> list[list[str]]:
    key = f"exports/{job['exportId']}/{job['fileName']}"
    body = boto3.client("s3").get_object(Bucket=bucket(stack), Key=key)["Body"].read()
    assert body.startswith(b"\xef\xbb\xbf")  # a byte-order mark: Excel reads UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def export(call_api: Call, token: str, path: str, body: dict[str, Any], **options: Any) -> dict[str, Any]:
    reply = call_api("POST", path, body=body, token=token, **options)
    assert reply.status == 202, reply.json()
    assert reply.headers["location"] == f"{path}/{reply.json()['exportId']}"
    job: dict[str, Any] = reply.json()
    return job


def finished(stack: StackTemplate, call_api: Call, token: str, path: str, export_id: str) -> dict[str, Any]:
    drain_imports(stack)
    got = call_api("GET", f"{path}/{export_id}", token=token)
    assert got.status == 200, got.json()
    job: dict[str, Any] = got.json()
    return job


# --- segments ----------------------------------------------------------------------------------------
def test_a_segment_exports_in_parts_with_the_columns_asked(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str], small_parts: None
) -> None:
    token = token_for("marketing")
    people = [person(n) for n in range(30)]
    people[3].traits["company"] = {"name": '=HYPERLINK("http://evil")'}
    people[4].traits["lastName"] = "@SUM(A1)"
    segment_id = segment_of(call_api, token, [*people, person(99, country="france")])
    columns = ["email", "firstName", "lastName", "traits.company.name", "stage", "score", "tags", "profileId"]
    job = export(call_api, token, "/marketing/exports", {"segmentId": segment_id, "columns": columns})
    assert job["status"] == "queued"
    assert job["downloadUrl"] is None

    done = finished(aws, call_api, token, "/marketing/exports", job["exportId"])
    assert done["status"] == "done"
    assert done["counts"]["rows"] == 30
    assert done["counts"]["parts"] == 5  # 30 members in pages of 7: one part per page
    assert job["exportId"] in done["downloadUrl"]
    assert "X-Amz-Signature=" in done["downloadUrl"]
    rows = csv_file(aws, done)
    assert rows[0] == columns
    assert len(rows) == 31
    assert sorted(row[0] for row in rows[1:]) == [f"p{n:03d}@example.com" for n in range(30)]
    by_email = {row[0]: row for row in rows[1:]}
    assert by_email["p003@example.com"][3] == '\'=HYPERLINK("http://evil")'  # never run as a formula
    assert by_email["p004@example.com"][2] == "'@SUM(A1)"
    assert by_email["p005@example.com"][1:3] == ["First5", ""]
    assert by_email["p005@example.com"][6] == "interest:pricing"
    assert done["counts"]["bytes"] == len(
        boto3.client("s3")
        .get_object(Bucket=bucket(aws), Key=f"exports/{done['exportId']}/{done['fileName']}")["Body"]
        .read()
    )


def test_the_worker_holds_one_page_and_one_part_at_a_time(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1)
    monkeypatch.setenv("EXPORT_PAGE_ROWS", "5")
    monkeypatch.setenv("EXPORT_PART_BYTES", "400")  # a part spans a few pages
    token = token_for("marketing")
    segment_id = segment_of(call_api, token, [person(n) for n in range(40)])
    job = export(call_api, token, "/marketing/exports", {"segmentId": segment_id, "columns": ["email"]})
    take(aws, "ImportQueue")
    stored = exportjobs.get_job(job["exportId"])
    assert stored is not None

    pages: list[int] = []
    real = exporter.reader_for(stored)

    def counting(cursor: str | None, limit: int) -> tuple[list[list[Any]], str | None]:
        rows, next_cursor = real(cursor, limit)
        pages.append(len(rows))
        return rows, next_cursor

    report = exporter.run(stored, reader=counting)
    assert report.outcome == "done"
    assert pages[:8] == [5] * 8
    assert sum(pages) == 40  # (the member index may answer one empty page after the last full one)
    assert report.peak_rows_held == 5  # one page, whatever the segment's size
    line = len(b"p000@example.com\r\n")
    assert report.peak_part_bytes < 400 + 5 * line  # a part is flushed at the first page end past 400 bytes
    assert report.parts == 2  # 40 rows of 19 bytes + the header: 400 bytes, then the rest
    assert len(csv_file(aws, finished(aws, call_api, token, "/marketing/exports", job["exportId"]))) == 41


def test_a_step_that_dies_or_runs_twice_writes_each_row_once(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str], small_parts: None
) -> None:
    token = token_for("marketing")
    segment_id = segment_of(call_api, token, [person(n) for n in range(20)])
    job = export(call_api, token, "/marketing/exports", {"segmentId": segment_id, "columns": ["email"]})
    take(aws, "ImportQueue")
    stored = exportjobs.get_job(job["exportId"])
    assert stored is not None
    real = exporter.reader_for(stored)

    def dying_after(pages: int) -> Callable[[str | None, int], tuple[list[list[Any]], str | None]]:
        calls = iter(range(100))

        def read(cursor: str | None, limit: int) -> tuple[list[list[Any]], str | None]:
            if next(calls) >= pages:
                raise TimeoutError("the invocation ran out of time")
            return real(cursor, limit)

        return read

    with pytest.raises(TimeoutError):
        exporter.run(stored, reader=dying_after(2))  # parts 1 and 2 checkpointed, then it dies
    checkpointed = exportjobs.get_job(job["exportId"])
    assert checkpointed is not None
    assert (checkpointed.parts, checkpointed.rows, checkpointed.status) == (2, 14, "running")

    # The redelivered message resumes from the checkpoint; a stale copy of the step (it read the job
    # before the other finished) finds its part taken and stops.
    stale = checkpointed.model_copy()
    assert exporter.run(checkpointed).outcome == "done"
    assert exporter.run(stale).outcome == "superseded"
    done = call_api("GET", f"/marketing/exports/{job['exportId']}", token=token).json()
    assert (done["status"], done["counts"]["rows"], done["counts"]["parts"]) == ("done", 20, 3)
    rows = csv_file(aws, done)
    assert rows[0] == ["email"]
    emails = [row[0] for row in rows[1:]]
    assert sorted(emails) == sorted(set(emails)) == [f"p{n:03d}@example.com" for n in range(20)]


def test_redelivered_messages_change_nothing(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str], small_parts: None
) -> None:
    token = token_for("marketing")
    segment_id = segment_of(call_api, token, [person(n) for n in range(10)])
    job = export(call_api, token, "/marketing/exports", {"segmentId": segment_id})
    drain_imports(aws, redeliver=True)
    done = call_api("GET", f"/marketing/exports/{job['exportId']}", token=token).json()
    assert done["columns"] == ["profileId", "email", "firstName", "lastName", "company", "stage", "score"]
    assert (done["status"], done["counts"]["rows"]) == ("done", 10)
    assert len(csv_file(aws, done)) == 11
    listed = call_api("GET", "/marketing/exports", token=token).json()["items"]
    assert [item["exportId"] for item in listed] == [job["exportId"]]


def test_an_empty_segment_is_a_file_with_its_header(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    token = token_for("marketing")
    segment_id = segment_of(call_api, token, [])
    job = export(
        call_api, token, "/marketing/exports", {"segmentId": segment_id, "columns": ["email", "score"]}
    )
    done = finished(aws, call_api, token, "/marketing/exports", job["exportId"])
    assert (done["status"], done["counts"]["rows"], done["counts"]["parts"]) == ("done", 0, 1)
    assert csv_file(aws, done) == [["email", "score"]]


def test_the_idempotency_key_makes_one_export(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    token = token_for("marketing")
    segment_id = segment_of(call_api, token, [person(1)])
    body = {"segmentId": segment_id, "columns": ["email"]}
    key = [("Idempotency-Key", "3f1c9a4e-export-once")]
    first = export(call_api, token, "/marketing/exports", body, headers=key)
    again = export(call_api, token, "/marketing/exports", body, headers=key)
    assert again["exportId"] == first["exportId"]
    assert len(take(aws, "ImportQueue")) == 1
    other = call_api(
        "POST", "/marketing/exports", body={**body, "columns": ["score"]}, token=token, headers=key
    )
    assert other.status == 422
    assert other.json()["errors"] == [{"field": "Idempotency-Key", "message": "used for another export"}]


# --- columns and bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "fields"),
    [
        ({"segmentId": "seg-none"}, 404, None),
        (
            {"segmentId": "SEG", "columns": ["email", "favouriteColour", "traits.", "score"]},
            422,
            ["columns", "columns"],
        ),
        ({"segmentId": "SEG", "columns": ["email", "email"]}, 422, ["columns"]),
        ({"segmentId": "SEG", "columns": []}, 422, ["columns"]),
        ({"segmentId": "SEG", "columns": ["email"] * 201}, 422, ["columns"]),
        ({"segmentId": "SEG", "columns": ["x" * 201]}, 422, ["columns.0"]),
        ({"segmentId": "SEG", "columns": [{"deep": [[["email"]]]}]}, 422, ["columns.0"]),
        ({"segmentId": "../../etc", "columns": ["email"]}, 422, ["segmentId"]),
        ({"segmentId": "SEG", "columns": ["email\u0000"]}, 422, ["columns"]),
        ({"segmentId": 1e308}, 422, ["segmentId"]),
        ({}, 422, ["segmentId"]),
    ],
)
def test_bad_segment_exports_are_refused_naming_what_to_fix(
    aws: StackTemplate,
    call_api: Call,
    token_for: Callable[..., str],
    body: dict[str, Any],
    status: int,
    fields: list[str] | None,
) -> None:
    token = token_for("marketing")
    if body.get("segmentId") == "SEG":
        body = {**body, "segmentId": segment_of(call_api, token, [])}
    reply = call_api("POST", "/marketing/exports", body=body, token=token)
    assert reply.status == status, reply.json()
    assert reply.headers["content-type"] == "application/problem+json"
    if fields is not None:
        assert [error["field"] for error in reply.json()["errors"]] == fields
    if status == 422 and "favouriteColour" in str(body):
        assert "favouriteColour" in reply.json()["detail"]
        assert "traits." in reply.json()["detail"]
    assert take(aws, "ImportQueue") == []


def test_bad_bodies_and_ids_are_4xx(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    token = token_for("marketing")
    raw = call_api("POST", "/marketing/exports", body=b'{"segmentId": NaN}', token=token)
    assert raw.status in (400, 422)
    assert call_api("POST", "/marketing/exports", body=b"\xff\xfe", token=token).status in (400, 422)
    assert call_api("GET", "/marketing/exports/exp_" + "0" * 32, token=token).status == 404
    assert call_api("GET", "/marketing/exports/not-an-id", token=token).status == 422


# --- CRM lists ---------------------------------------------------------------------------------------
def contact(call_api: Call, token: str, **fields: Any) -> dict[str, Any]:
    reply = call_api("POST", "/crm/contacts", body=fields, token=token)
    assert reply.status == 201, reply.json()
    created: dict[str, Any] = reply.json()
    return created


def test_a_crm_list_exports_with_the_list_filters(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str], small_parts: None
) -> None:
    alice, bob = token_for("sales", user="alice"), token_for("sales", user="bob")
    acme = {
        "name": "Acme",
        "domain": "acme.test",
        "address": {"city": "Berlin"},
        "customFields": {"tier": "gold"},
    }
    account = call_api("POST", "/crm/accounts", token=alice, body=acme).json()
    mine = [
        contact(call_api, alice, lastName=f"Mine{n}", email=f"m{n}@acme.test", accountId=account["accountId"],
                customFields={"region": "-1+1"})
        for n in range(9)
    ]  # fmt: skip
    contact(call_api, bob, lastName="Bobs", email="b@acme.test")
    columns = ["contactId", "lastName", "email", "accountId", "customFields.region", "version"]
    job = export(
        call_api,
        alice,
        "/crm/exports",
        {"resource": "contacts", "filters": {"ownerId": "me"}, "columns": columns},
    )
    assert job["filters"] == {"ownerId": "me"}
    done = finished(aws, call_api, alice, "/crm/exports", job["exportId"])
    assert (done["status"], done["counts"]["rows"]) == ("done", 9)
    rows = csv_file(aws, done)
    assert rows[0] == columns
    assert sorted(row[0] for row in rows[1:]) == sorted(c["contactId"] for c in mine)
    assert {row[4] for row in rows[1:]} == {"'-1+1"}
    assert {row[5] for row in rows[1:]} == {"1"}

    columns = ["name", "address.city", "customFields.tier"]
    body = {"resource": "accounts", "filters": {"createdFrom": "2000-01-01"}, "columns": columns}
    accounts = export(call_api, bob, "/crm/exports", body)
    done = finished(aws, call_api, bob, "/crm/exports", accounts["exportId"])
    assert csv_file(aws, done) == [["name", "address.city", "customFields.tier"], ["Acme", "Berlin", "gold"]]

    # A CRM export is read by who made it (it holds what they may see) or an admin.
    assert call_api("GET", f"/crm/exports/{job['exportId']}", token=bob).status == 404
    assert (
        call_api("GET", f"/crm/exports/{job['exportId']}", token=token_for("admin", user="root")).status
        == 200
    )
    assert [e["exportId"] for e in call_api("GET", "/crm/exports", token=alice).json()["items"]] == [
        job["exportId"]
    ]
    # A segment export's id is not a CRM export.
    assert call_api("GET", f"/marketing/exports/{job['exportId']}", token=token_for("admin")).status == 404


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"resource": "contacts", "filters": {"bogus": "1"}, "columns": ["email"]}, ["filters.bogus"]),
        (
            {"resource": "contacts", "filters": {"createdFrom": "yesterday"}, "columns": ["email"]},
            ["filters.createdFrom"],
        ),
        ({"resource": "deals", "filters": {"outcome": "maybe"}, "columns": ["name"]}, ["filters.outcome"]),
        ({"resource": "contacts", "filters": {"limit": 5}, "columns": ["email"]}, ["filters.limit"]),
        ({"resource": "contacts", "filters": {"ownerId": {"$ne": 1}}, "columns": ["email"]}, None),
        (
            {"resource": "contacts", "columns": ["email", "password", "customFields.", "engagement"]},
            ["columns"] * 3,
        ),
        ({"resource": "users", "columns": ["email"]}, ["resource"]),
        ({"resource": "contacts", "filters": {"x" * 101: 1}, "columns": ["email"]}, None),
        ({"resource": "contacts", "filters": {"accountId": 10**400}, "columns": ["email"]}, None),
    ],
)
def test_bad_crm_exports_are_refused_naming_what_to_fix(
    aws: StackTemplate,
    call_api: Call,
    token_for: Callable[..., str],
    body: dict[str, Any],
    fields: list[str] | None,
) -> None:
    reply = call_api("POST", "/crm/exports", body=body, token=token_for("sales"))
    assert reply.status == 422, reply.json()
    assert reply.headers["content-type"] == "application/problem+json"
    if fields is not None:
        assert [error["field"] for error in reply.json()["errors"]] == fields
    assert take(aws, "ImportQueue") == []


def test_exports_need_the_right_roles(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    segment = {"segmentId": "seg-x", "columns": ["email"]}
    crm = {"resource": "contacts", "columns": ["email"]}
    for role, marketing, sales in (("sales", 403, 202), ("marketing", 404, 403), ("admin", 404, 202)):
        token = token_for(role)
        assert call_api("POST", "/marketing/exports", body=segment, token=token).status == marketing
        assert call_api("GET", "/marketing/exports", token=token).status == (403 if marketing == 403 else 200)
        assert call_api("POST", "/crm/exports", body=crm, token=token).status == sales
        assert call_api("GET", "/crm/exports", token=token).status == (403 if sales == 403 else 200)
    assert call_api("POST", "/crm/exports", body=crm).status == 401


def test_a_list_that_cannot_be_read_fails_the_export_with_the_reason(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str]
) -> None:
    token = token_for("sales")
    job = export(call_api, token, "/crm/exports", {"resource": "contacts", "columns": ["email"]})
    take(aws, "ImportQueue")
    stored = exportjobs.get_job(job["exportId"])
    assert stored is not None
    # The list's filters stopped making sense after the job was made (an old job of an older version).
    boto3.client("dynamodb").update_item(
        TableName=get_settings().main_table,
        Key={"pk": {"S": f"EXPORT#{job['exportId']}"}, "sk": {"S": "EXPORT"}},
        UpdateExpression="SET filters = :f",
        ExpressionAttributeValues={":f": {"M": {"createdFrom": {"S": "never"}}}},
    )
    assert exporter.handle({"exportId": job["exportId"], "step": "export"}) == "failed"
    assert exporter.handle({"exportId": job["exportId"], "step": "export"}) == "already failed"
    failed = call_api("GET", f"/crm/exports/{job['exportId']}", token=token).json()
    assert failed["status"] == "failed"
    assert "createdFrom" in failed["error"]
