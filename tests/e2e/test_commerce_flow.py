"""Quote -> order -> contract -> renewal on the local stack, over HTTP with real tokens: the path a sales
team takes, including a file attached through S3 presigned URLs and the daily renewal schedule."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests

from leadstream_local.auth import issue_token
from leadstream_local.stack import LocalStack
from leadstream_local.template import REGION

pytestmark = pytest.mark.e2e


def _in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


class Http:
    def __init__(self, stack: LocalStack, role: str, user: str) -> None:
        cognito = boto3.client("cognito-idp", endpoint_url=stack.aws_url, region_name=REGION)
        self.url = stack.url
        self.headers = {
            "Authorization": f"Bearer {issue_token(stack.template, cognito, role=role, user=user)}"
        }

    def call(self, method: str, path: str, body: Any = None, status: int = 200, **headers: str) -> Any:
        reply = requests.request(
            method, f"{self.url}{path}", json=body, headers={**self.headers, **headers}, timeout=30
        )
        assert reply.status_code == status, (method, path, reply.status_code, reply.text)

        def refuse(text: str) -> Any:
            raise AssertionError(f"an amount sent as a JSON number: {text}")

        return json.loads(reply.text, parse_float=refuse) if reply.text else None


def test_a_quote_becomes_an_order_a_contract_and_a_renewal_deal(local_stack: LocalStack) -> None:
    admin = Http(local_stack, "admin", "e2e-admin")
    rep = Http(local_stack, "sales", "e2e-rep")

    seats = admin.call(
        "POST", "/crm/products", {"sku": "E2E-SEAT", "name": "Seat", "prices": {"EUR": "49.90"}}, 201
    )
    account = rep.call("POST", "/crm/accounts", {"name": "E2E GmbH"}, 201)
    quote_body = {
        "name": "E2E seats",
        "accountId": account["accountId"],
        "currency": "EUR",
        "validUntil": _in_days(14),
        "lines": [
            {
                "productId": seats["productId"],
                "quantity": "12",
                "discountPercent": "15",
                "taxRatePercent": "19",
            }
        ],
    }
    key = str(uuid.uuid4())
    quote = rep.call("POST", "/crm/quotes", quote_body, 201, **{"Idempotency-Key": key})
    assert rep.call("POST", "/crm/quotes", quote_body, 201, **{"Idempotency-Key": key}) == quote
    # 12 x 49.90 = 598.80; -15% = 89.82 -> 508.98; +19% = 96.7062 -> 96.71; total 605.69
    assert quote["totals"] == {
        "subtotal": "598.80",
        "discount": "89.82",
        "net": "508.98",
        "tax": "96.71",
        "total": "605.69",
    }

    path = f"/crm/quotes/{quote['quoteId']}"
    rep.call("POST", f"{path}/status", {"status": "sent"}, **{"If-Match": '"1"'})
    accepted = rep.call("POST", f"{path}/status", {"status": "accepted"}, **{"If-Match": '"2"'})
    order = rep.call("GET", f"/crm/orders/{accepted['orderId']}")
    assert (order["status"], order["totals"]["total"]) == ("confirmed", "605.69")
    rep.call("POST", f"/crm/orders/{order['orderId']}/status", {"status": "fulfilled"})

    contract = rep.call(
        "POST",
        f"/crm/orders/{order['orderId']}/contract",
        {"startDate": _in_days(0), "endDate": _in_days(45), "terms": "12 seats, annual"},
        201,
    )
    # 45 days left, 60 days' lead time: the renewal was due already, so the next run makes it.
    assert (contract["value"], contract["renewalDueOn"]) == ("605.69", _in_days(-15))

    attachment_path = f"/crm/contracts/{contract['contractId']}/attachments"
    signed = b"%PDF-1.4 signed contract"
    created = rep.call(
        "POST",
        attachment_path,
        {"fileName": "contract.pdf", "contentType": "application/pdf", "size": len(signed)},
        201,
    )
    upload = created["upload"]
    sent = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("contract.pdf", signed)}, timeout=30
    )
    assert sent.status_code in {200, 204}, sent.text
    link = rep.call("GET", f"{attachment_path}/{created['attachment']['attachmentId']}")["download"]
    downloaded = requests.get(link["url"], timeout=30)
    assert (downloaded.status_code, downloaded.content) == (200, signed)

    first = local_stack.trigger_schedule("RenewalFunction")
    assert first["renewalsCreated"] >= 1
    renewed = rep.call("GET", f"/crm/contracts/{contract['contractId']}")
    deal = rep.call("GET", f"/crm/deals/{renewed['renewalDealId']}")
    assert (deal["name"], deal["amount"], deal["closeDate"], deal["accountId"]) == (
        "Renewal: E2E seats",
        "605.69",
        _in_days(45),
        account["accountId"],
    )

    local_stack.trigger_schedule("RenewalFunction")
    deals = (
        rep.call("GET", "/crm/deals", query=None)
        if False
        else rep.call("GET", f"/crm/deals?accountId={account['accountId']}")
    )
    assert [d["dealId"] for d in deals["items"]] == [deal["dealId"]]
