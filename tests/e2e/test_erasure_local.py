"""An erasure on the local stack, with every stream, queue and worker running as in AWS: a person browses,
fills a form, identifies, is imported, becomes a CRM contact (created with an Idempotency-Key), a lead and
a ticket with an attached file, gets an email and unsubscribes. Then an admin erases them, and a search
of every table (a full scan), every bucket (every object and every version) and every queue (received
without deleting) finds neither their address, nor their name, nor their phone number, in any case or
URL-encoded; the access export by their profile id holds nothing personal."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import boto3
import pytest
import requests
from stack_client import StackClient

from leadstream.profiles import IdentityRef
from leadstream.store.profiles import profile_of
from leadstream_local.cli import main
from leadstream_local.seed import DEMO_REQUEST_FORM
from leadstream_local.stack import LocalStack

pytestmark = pytest.mark.e2e

FIRST, LAST = "Wilhelmina", "Quastenflosser"
PHONE = "+49 30 901820"


def _needles(email: str) -> list[str]:
    found: set[str] = set()
    for value in (email, f"{FIRST} {LAST}", FIRST, LAST, PHONE):
        for form in (value, value.lower(), value.upper()):
            found |= {form, quote(form, safe=""), quote_plus(form)}
    return sorted(found)


def _items(client: Any, table: str) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator("scan").paginate(TableName=table):
        yield from page["Items"]


def _search(stack: LocalStack, needles: list[str]) -> list[str]:
    """Where the person still is: every table, bucket (object versions) and queue of the stack."""
    found = []
    encoded = [needle.encode() for needle in needles]
    dynamodb = boto3.client("dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        for item in _items(dynamodb, table):
            text = json.dumps(item)
            found += [f"table {table}: {text[:200]}" for n in needles if n in text][:1]
    s3 = boto3.client("s3")
    for bucket in [entry["Name"] for entry in s3.list_buckets()["Buckets"]]:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []):
                body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
                data = body["Body"].read()
                if any(n in data for n in encoded) or any(n in version["Key"] for n in needles):
                    found.append(f"bucket {bucket}: {version['Key']} ({version['VersionId']})")
    sqs = boto3.client("sqs")
    for url in sqs.list_queues().get("QueueUrls", []):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        for message in messages:
            text = json.dumps(message)
            if any(n in text for n in needles):
                found.append(f"queue {url}: {text[:200]}")
    return found


def _wait_done(admin: StackClient, path: str) -> dict[str, Any]:
    for _ in range(240):
        erasure: dict[str, Any] = admin.ok("GET", path)
        if erasure["status"] == "done":
            return erasure
        time.sleep(0.25)
    raise AssertionError(f"the erasure did not finish: {erasure}")


def _crm_records(stack: LocalStack, email: str) -> str:
    """A contact (created with an Idempotency-Key: its cached response holds the address), a lead, a
    ticket of the contact with a file attached. The contact's id."""
    sales = StackClient(stack, "sales", user="sam")
    contact = sales.ok(
        "POST",
        "/crm/contacts",
        {"firstName": FIRST, "lastName": LAST, "email": email, "phone": PHONE},
        **{"Idempotency-Key": f"contact-{uuid.uuid4().hex}"},
    )
    sales.ok("POST", "/crm/leads", {"firstName": FIRST, "lastName": LAST, "email": email, "company": "Acme"})
    ticket = sales.ok(
        "POST", "/crm/tickets", {"subject": "Cannot sign in", "contactId": contact["contactId"]}
    )
    scan = f"Passport scan of {FIRST} {LAST}, {PHONE}".encode()
    attachment = sales.ok(
        "POST",
        f"/crm/tickets/{ticket['ticketId']}/attachments",
        {"fileName": "passport.txt", "contentType": "text/plain", "size": len(scan)},
    )
    upload = attachment["upload"]
    sent = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("passport.txt", scan)}, timeout=30
    )
    assert sent.status_code in (200, 204), sent.text
    return str(contact["contactId"])


def test_an_erased_person_is_found_nowhere_on_the_stack(local_stack: LocalStack, tmp_path: Path) -> None:
    site, visitor = StackClient(local_stack), f"visitor-{uuid.uuid4().hex[:8]}"
    email = f"Wilhelmina.Q.{uuid.uuid4().hex[:6]}@Example.org"
    needles = _needles(email)
    admin = StackClient(local_stack, "admin", user="ada")
    marketing = StackClient(local_stack, "marketing", user="mia")

    # A tracked visit, a form, an identify.
    site.send(
        "page",
        {
            "anonymousId": visitor,
            "name": "Pricing",
            "properties": {"url": f"https://www.example.com/pricing?email={quote(email)}"},
            "context": {"ip": "203.0.113.7", "userAgent": "Mozilla/5.0", "traits": {"phone": PHONE}},
        },
    )
    form = {"email": email, "firstName": FIRST, "lastName": LAST, "phone": PHONE, "anonymousId": visitor}
    reply = requests.post(
        f"{local_stack.url}/forms/{DEMO_REQUEST_FORM}",
        data=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": "https://www.example.com/demo",
        },
        timeout=30,
        allow_redirects=False,
    )
    assert reply.status_code in (200, 302, 303), reply.text
    user_id = f"u-{uuid.uuid4().hex[:8]}"
    site.send(
        "identify",
        {
            "userId": user_id,
            "anonymousId": visitor,
            "traits": {"email": email, "firstName": FIRST, "lastName": LAST, "phone": PHONE},
        },
    )
    assert local_stack.wait_idle()

    # An import row (the same person, in a spreadsheet).
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        f"Email,First Name,Last Name,Phone\n{email},{FIRST},{LAST},{PHONE}\nother@example.org,O,P,1\n"
    )
    assert (
        main(
            [
                "import",
                "contacts",
                str(contacts),
                "--api-url",
                local_stack.url,
                "--aws-url",
                local_stack.aws_url,
            ]
        )
        == 0
    )

    _crm_records(local_stack, email)

    # An email, and an unsubscribe.
    profile = profile_of(IdentityRef(kind="email", value=email.lower()))
    assert profile is not None
    template = marketing.ok(
        "POST",
        "/marketing/templates",
        {"name": "Hello", "subject": "For you, {{ first_name }}", "html": "<p>Hello {{ first_name }}</p>"},
    )
    boto3.client("sqs").send_message(
        QueueUrl=local_stack.template.physical["EmailSendQueue"]["Ref"],
        MessageBody=json.dumps(
            {
                "messageId": f"hello-{uuid.uuid4().hex[:8]}",
                "templateId": template["templateId"],
                "templateVersion": template["version"],
                "profileId": profile.profile_id,
                "campaignId": "hello",
            }
        ),
    )
    assert local_stack.wait_idle()
    assert local_stack.outbox(to=email.lower())
    marketing.ok("PUT", f"/marketing/suppressions/{quote(email)}", {"detail": "asked by phone"})
    assert _search(local_stack, needles)  # the search finds the person before

    # The erasure.
    requested = admin.request("POST", "/marketing/privacy/erasures", {"email": email})
    assert requested.status == 202, requested.body
    path = requested.headers["Location"]
    erasure = _wait_done(admin, path)
    assert local_stack.wait_idle()  # the streams carry the erasure's writes through

    assert _search(local_stack, needles) == []
    stores = {entry["store"]: entry["items"] for entry in erasure["receipt"]}
    assert stores["events"]["anonymised"] >= 3
    assert stores["crm"]["contacts"] == 1
    assert stores["crm"]["leads"] >= 1
    assert stores["crm"]["attachments"] == 1
    assert stores["emailSends"] == {"anonymised": 1}
    assert stores["suppression"] == {"hashed": 1}
    assert stores["importFiles"]["files"] >= 1
    assert stores["idempotencyRecords"]["removed"] >= 1
    assert stores["profile"]["profiles"] >= 1

    # The access export: nobody by that address; by the profile id, nothing personal.
    assert marketing.request("POST", "/marketing/privacy/exports", {"email": email}).status == 404
    document = marketing.ok("POST", "/marketing/privacy/exports", {"profileId": profile.profile_id})
    text = json.dumps(document)
    assert not [needle for needle in needles if needle in text]
    assert document["identities"] == []

    # Asked again: the same erasure, the same receipt.
    again = admin.request("POST", "/marketing/privacy/erasures", {"email": email.upper()})
    assert again.status == 202
    assert again.json()["erasureId"] == erasure["erasureId"]
    assert local_stack.wait_idle()
    assert admin.ok("GET", path)["receipt"] == erasure["receipt"]
