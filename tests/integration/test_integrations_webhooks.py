"""Webhooks on moto with a real receiver on loopback: subscriptions through the admin API, the bus rule to
the queue, fan-out, Standard Webhooks signatures verified with the `standardwebhooks` library, retries
with backoff, the dead letter after the retry window (on the business clock), per-subscription isolation,
and no delivery to addresses that are not public."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from integrations_support import WebhookQueue, receiver
from standardwebhooks.webhooks import Webhook

from integrations.catalog import make
from integrations.webhooks import BACKOFF_SECONDS
from leadstream import clock
from leadstream_local.inprocess import Call
from leadstream_local.template import StackTemplate

BASE = "/marketing/webhooks"


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "true")


@pytest.fixture
def admin(call_api: Call, token_for: Callable[..., str]) -> Callable[..., Any]:
    token = token_for("admin", "ada")

    def call(method: str, path: str, body: Any = b"", status: int = 200, **kwargs: Any) -> Any:
        reply = call_api(method, path, body=body, token=token, **kwargs)
        assert reply.status == status, (reply.status, reply.body)
        return reply.json() if reply.body else None

    return call


@pytest.fixture
def queue(aws: StackTemplate) -> WebhookQueue:
    return WebhookQueue(aws)


def publish(type_: str = "deal.won", deal_id: str = "d-1") -> str:
    """A catalog event on the bus, as the catalog function puts it; its id."""
    data = {"dealId": deal_id, "outcome": "won", "amount": "10.00", "currency": "EUR"}
    event = make(type_, ("deal", deal_id, 2), "2026-11-23T12:00:00Z", data)
    from integrations.store.bus import put_events

    assert put_events([event]) == set()
    return event.id


def advance(monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
    offset = clock.offset() + delta
    monkeypatch.setenv(clock.OFFSET_VARIABLE, str(offset.total_seconds()))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_delivery_is_signed_as_standard_webhooks_say(
    aws: StackTemplate, admin: Callable[..., Any], queue: WebhookQueue, loopback: None
) -> None:
    with receiver() as hook:
        created = admin("POST", BASE, {"url": hook.url, "eventTypes": ["deal.won"]}, status=201)
        assert created["secret"].startswith("whsec_")
        assert "secret" not in admin("GET", f"{BASE}/{created['subscriptionId']}")
        event_id = publish()

        assert queue.pump() == []

        [(headers, body)] = hook.received
        verified = Webhook(created["secret"]).verify(body, headers)
        assert verified["id"] == event_id == headers["webhook-id"]
        assert (verified["type"], verified["data"]["dealId"]) == ("deal.won", "d-1")
        [delivery] = admin("GET", f"{BASE}/{created['subscriptionId']}/deliveries")["items"]
        assert (delivery["status"], delivery["attempts"], delivery["responseCode"]) == ("delivered", 1, 200)
        # Another subscriber's secret does not verify it.
        other = admin("POST", BASE, {"url": hook.url, "eventTypes": ["deal.lost"]}, status=201)
        with pytest.raises(Exception, match="No matching signature"):
            Webhook(other["secret"]).verify(body, headers)


def test_a_failing_receiver_is_retried_with_backoff_until_it_recovers(
    aws: StackTemplate,
    admin: Callable[..., Any],
    queue: WebhookQueue,
    loopback: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with receiver(500, 503) as hook:
        created = admin("POST", BASE, {"url": hook.url, "eventTypes": ["*"]}, status=201)
        path = f"{BASE}/{created['subscriptionId']}/deliveries"
        publish()
        [left] = queue.pump()  # the first attempt failed: the message waits for its backoff
        [first] = admin("GET", path)["items"]
        assert (first["status"], first["attempts"], first["responseCode"]) == ("retrying", 1, 500)
        assert at(first["nextAttemptAt"]) - at(first["lastAttemptAt"]) == timedelta(
            seconds=BACKOFF_SECONDS[0]
        )

        assert queue.deliver([left])["batchItemFailures"]  # came back too early: waits again, no attempt
        assert len(hook.received) == 1
        advance(monkeypatch, timedelta(seconds=BACKOFF_SECONDS[0]))
        assert queue.deliver([left])["batchItemFailures"]  # second attempt: 503
        [second] = admin("GET", path)["items"]
        assert (second["attempts"], second["responseCode"]) == (2, 503)
        assert at(second["nextAttemptAt"]) - at(second["lastAttemptAt"]) == timedelta(
            seconds=BACKOFF_SECONDS[1]
        )

        advance(monkeypatch, timedelta(seconds=BACKOFF_SECONDS[1]))
        assert queue.deliver([left]) == {"batchItemFailures": []}

        [done] = admin("GET", path)["items"]
        assert (done["status"], done["attempts"], done["responseCode"]) == ("delivered", 3, 200)
        assert len({headers["webhook-id"] for headers, _ in hook.received}) == 1  # one id for every attempt
        for headers, body in hook.received:
            Webhook(created["secret"]).verify(body, headers)


def test_after_the_retry_window_a_delivery_is_dead_lettered_and_can_be_redelivered(
    aws: StackTemplate,
    admin: Callable[..., Any],
    queue: WebhookQueue,
    loopback: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with receiver(*[500] * 10) as hook:
        created = admin("POST", BASE, {"url": hook.url, "eventTypes": ["deal.won"]}, status=201)
        path = f"{BASE}/{created['subscriptionId']}/deliveries"
        event_id = publish()
        [left] = queue.pump()
        advance(monkeypatch, timedelta(hours=23))
        assert queue.deliver([left])["batchItemFailures"]  # within the window: retried
        advance(monkeypatch, timedelta(hours=2))
        assert queue.deliver([left]) == {"batchItemFailures": []}  # past 24 hours: given up

        [dead] = admin("GET", path, query="status=dead")["items"]
        assert (dead["deliveryId"], dead["status"], dead["attempts"]) == (event_id, "dead", 3)
        assert dead["nextAttemptAt"] is None
        assert queue.dead_letters() == [
            {
                "kind": "delivery",
                "subscriptionId": created["subscriptionId"],
                "deliveryId": event_id,
                "eventType": "deal.won",
            }
        ]
        hook.statuses.clear()  # the receiver is fixed
        again = admin("POST", f"{path}/{event_id}/redeliver", status=202)
        assert again["status"] == "pending"
        assert queue.pump() == []
        [delivered] = admin("GET", path)["items"]
        assert (delivered["status"], delivered["attempts"]) == ("delivered", 4)


def test_a_failing_receiver_does_not_hold_back_other_subscriptions(
    aws: StackTemplate, admin: Callable[..., Any], queue: WebhookQueue, loopback: None
) -> None:
    with receiver(*[500] * 10) as broken, receiver() as healthy:
        bad = admin("POST", BASE, {"url": broken.url, "eventTypes": ["*"]}, status=201)
        good = admin("POST", BASE, {"url": healthy.url, "eventTypes": ["*"]}, status=201)
        for number in range(3):
            publish(deal_id=f"d-{number}")

        left = queue.pump()

        assert len(healthy.received) == 3
        assert len(left) == 3  # the broken one's three deliveries wait for their own backoff
        statuses = {
            item["status"] for item in admin("GET", f"{BASE}/{good['subscriptionId']}/deliveries")["items"]
        }
        assert statuses == {"delivered"}
        bad_items = admin("GET", f"{BASE}/{bad['subscriptionId']}/deliveries")["items"]
        assert {item["status"] for item in bad_items} == {"retrying"}


def test_a_paused_subscription_gets_nothing_and_a_redelivered_event_is_delivered_once(
    aws: StackTemplate, admin: Callable[..., Any], queue: WebhookQueue, loopback: None
) -> None:
    with receiver() as hook:
        created = admin("POST", BASE, {"url": hook.url, "eventTypes": ["*"]}, status=201)
        one = f"{BASE}/{created['subscriptionId']}"
        paused = admin("PATCH", one, {"status": "paused"}, headers=[("if-match", '"1"')])
        assert paused["status"] == "paused"
        publish(deal_id="d-paused")
        queue.pump()
        assert hook.received == []
        admin("PATCH", one, {"status": "active"}, headers=[("if-match", '"2"')])
        publish(deal_id="d-active")
        publish(deal_id="d-active")  # the same event twice on the bus (a retried publication)
        queue.pump()
        assert len(hook.received) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.0.0.7/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://100.64.0.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fd00:ec2::254]/hook", "private"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://0.0.0.0/hook", "private"),
        ("http://203.0.113.9/hook", "https"),
        ("ftp://example.com/hook", "https"),
        ("https://user:pw@example.com/hook", "user name"),
        ("https:///nohost", "no host"),
        ("https://example.com:99999/hook", "not valid"),
        ("https://host.invalid/hook", "does not resolve"),
    ],
)
def test_subscribing_to_an_address_that_is_not_public_is_refused(
    aws: StackTemplate, admin: Callable[..., Any], url: str, reason: str
) -> None:
    problem = admin("POST", BASE, {"url": url, "eventTypes": ["*"]}, status=422)
    assert reason in problem["detail"]
    assert problem["errors"][0]["field"] == "url"


def test_the_address_is_checked_again_at_delivery(
    aws: StackTemplate,
    admin: Callable[..., Any],
    queue: WebhookQueue,
    loopback: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with receiver() as hook:
        created = admin("POST", BASE, {"url": hook.url, "eventTypes": ["*"]}, status=201)
        monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "false")  # as in a deployment
        publish()
        queue.pump()
        assert hook.received == []
        [delivery] = admin("GET", f"{BASE}/{created['subscriptionId']}/deliveries")["items"]
        assert delivery["status"] == "retrying"
        assert delivery["error"].startswith("refused: ")


def test_only_admins_manage_webhooks_and_input_is_checked(
    aws: StackTemplate,
    call_api: Call,
    token_for: Callable[..., str],
    admin: Callable[..., Any],
    loopback: None,
) -> None:
    for role in ("sales", "marketing"):
        assert call_api("GET", BASE, token=token_for(role)).status == 403
        body = {"url": "https://example.com/h", "eventTypes": ["*"]}
        assert call_api("POST", BASE, body=body, token=token_for(role)).status == 403
    unknown = admin("POST", BASE, {"url": "http://127.0.0.1:9/h", "eventTypes": ["deal.eaten"]}, status=422)
    assert "deal.eaten" in json.dumps(unknown)
    assert admin("POST", BASE, {"url": "http://127.0.0.1:9/h", "eventTypes": []}, status=422)
    assert admin("POST", BASE, {"url": "x" * 5000, "eventTypes": ["*"]}, status=422)
    assert admin("POST", BASE, {"url": "http://127.0.0.1:9/h", "eventTypes": ["*"], "extra": 1}, status=422)
    assert admin("GET", f"{BASE}/whk-0000000000000000", status=404)
    assert admin("GET", f"{BASE}/not-an-id", status=422)
    assert admin("GET", BASE, query="cursor=garbage", status=400)
    created = admin("POST", BASE, {"url": "http://127.0.0.1:9/h", "eventTypes": ["*"]}, status=201)
    one = f"{BASE}/{created['subscriptionId']}"
    assert admin("PATCH", one, {"status": "paused"}, status=428)
    assert admin("PATCH", one, {"status": "paused"}, status=412, headers=[("if-match", '"7"')])
    admin("DELETE", one, status=204, headers=[("if-match", '"1"')])
    assert admin("GET", one, status=404)
    catalog = admin("GET", "/marketing/webhooks-catalog")
    assert "deal.won" in catalog["types"]


def test_every_aws_call_of_a_delivery_is_counted(
    aws: StackTemplate, admin: Callable[..., Any], queue: WebhookQueue, loopback: None
) -> None:
    """Per delivered event and subscription: the fan-out's delivery put and its share of one SendMessageBatch,
    then the attempt's claim (which returns the delivery), the subscription read and the result."""
    from leadstream.aws import dynamodb

    calls: list[str] = []
    dynamodb().meta.events.register("before-call.dynamodb", lambda event_name, **_: calls.append(event_name))
    with receiver() as hook:
        admin("POST", BASE, {"url": hook.url, "eventTypes": ["*"]}, status=201)
        calls.clear()
        publish()
        queue.pump()
        assert len(hook.received) == 1
    names = [name.rsplit(".", 1)[-1] for name in calls]
    assert sorted(names) == sorted(["Query", "PutItem", "UpdateItem", "GetItem", "UpdateItem"])
    assert (
        boto3.client("sqs").get_queue_attributes(
            QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )


def test_copies_of_a_message_never_post_twice(
    aws: StackTemplate,
    admin: Callable[..., Any],
    queue: WebhookQueue,
    loopback: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from integrations.store import webhooks as store

    with receiver() as hook:
        created = admin("POST", BASE, {"url": hook.url, "eventTypes": ["*"]}, status=201)
        event_id = publish()
        queue.deliver(queue.receive())  # the fan-out
        [message] = queue.receive()
        # Another copy is being attempted right now (it holds the lease): this copy waits, posts nothing.
        now = clock.now()
        lease = (now + timedelta(seconds=50)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert store.claim_attempt(
            created["subscriptionId"], event_id, now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), lease
        )
        assert queue.deliver([message])["batchItemFailures"]
        assert hook.received == []
        # The other attempt died without a result: when its lease ends the delivery is due again, once.
        advance(monkeypatch, timedelta(seconds=51))
        assert queue.deliver([message]) == {"batchItemFailures": []}
        assert queue.deliver([message]) == {"batchItemFailures": []}  # a late copy: already delivered
        assert len(hook.received) == 1
        [delivery] = admin("GET", f"{BASE}/{created['subscriptionId']}/deliveries")["items"]
        assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://bücher.invalid/x", "eventTypes": ["*"]},
        {"url": "https://" + "a" * 70 + ".example/x", "eventTypes": ["*"]},
        {"url": "https://example.com:0/x", "eventTypes": ["*"]},
        {"url": "https://[::1]/x", "eventTypes": ["*"]},
        {"url": "https://example.com/x", "eventTypes": ["*"] * 100},
        {"url": "https://example.com/x", "eventTypes": ["*"], "description": "x" * 501},
        {"url": "https://example.com/x", "eventTypes": ["*"], "status": "deleted"},
        {"url": 12, "eventTypes": ["*"]},
        {"url": "https://example.com/x", "eventTypes": "*"},
        {"url": "https://example.com/x", "eventTypes": [{"nested": [[[[[]]]]]}]},
        [],
        "text",
    ],
)
def test_hostile_subscriptions_get_a_422_never_a_5xx(
    aws: StackTemplate, call_api: Call, token_for: Callable[..., str], body: Any
) -> None:
    reply = call_api("POST", BASE, body=body, token=token_for("admin"))
    assert reply.status == 422, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
