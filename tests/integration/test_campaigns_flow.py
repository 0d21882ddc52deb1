"""Campaigns on moto, through the template's routes, queues and handlers: the API and its roles, the paged
fan-out under redelivery, the A/B split and decision, and reports that count every message once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from email_support import (
    WELCOME,
    LambdaContext,
    person,
    raw_event,
    run_sender,
    ses_messages,
    template,
    unpaced,
)

from campaigns.models import Campaign, CampaignStatus
from leadstream import keys
from leadstream.profiles import Profile
from leadstream.settings import get_settings
from leadstream.store.dynamo import batch_put
from leadstream.timers import Timer
from leadstream_local.inprocess import Call
from leadstream_local.lambda_events import sns_event, sqs_record
from leadstream_local.template import StackTemplate
from mail.sends import SendRequest
from mail.template_models import TemplateContent

pytestmark = pytest.mark.usefixtures("unpaced")
__all__ = ["unpaced"]
BROWSER = ("user-agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15")
SEGMENT = "seg-vip"


# --- helpers ---------------------------------------------------------------------------------------------
def make_segment(profile_ids: list[str], segment_id: str = SEGMENT) -> None:
    """A segment and its member items, written as the segment store lays them out."""
    from audience.segments import Segment
    from audience.store import save_segment

    now = datetime.now(UTC)
    segment = Segment.model_validate(
        {
            "segmentId": segment_id,
            "name": "VIPs",
            "condition": {"type": "tag", "op": "has", "tag": "vip"},
            "version": 1,
            "createdAt": now,
            "updatedAt": now,
        }
    )
    assert save_segment(segment)
    members = [
        {**keys.segment_member_key(segment_id, pid), "segmentId": segment_id, "profileId": pid}
        for pid in profile_ids
    ]
    batch_put(get_settings().main_table, members)


def queue_url(stack: StackTemplate, logical: str) -> str:
    return str(stack.physical[logical]["Ref"])


def take(stack: StackTemplate, logical: str) -> list[dict[str, Any]]:
    """Every message on a queue now, removed from it."""
    sqs, url = boto3.client("sqs"), queue_url(stack, logical)
    taken: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not messages:
            return taken
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        taken.extend(messages)


def run_fanout(stack: StackTemplate, message: dict[str, Any]) -> dict[str, Any]:
    from handlers.fanout import lambda_handler

    event = {"Records": [sqs_record(message, queue_arn=stack.physical["FanoutQueue"]["Arn"])]}
    return lambda_handler(event, LambdaContext(function_name="FanoutFunction"))  # type: ignore[arg-type]


def drain_fanout(stack: StackTemplate, *, redeliver: bool = False) -> int:
    """Run the fan-out until its queue is empty (each message twice with `redeliver`); pages run."""
    pages = 0
    while messages := take(stack, "FanoutQueue"):
        for message in messages:
            assert run_fanout(stack, message) == {"batchItemFailures": []}
            if redeliver:
                assert run_fanout(stack, message) == {"batchItemFailures": []}
            pages += 1
    return pages


def send_requests(stack: StackTemplate) -> list[SendRequest]:
    return [SendRequest.model_validate_json(m["Body"]) for m in take(stack, "EmailSendQueue")]


def campaign_body(**fields: Any) -> dict[str, Any]:
    return {"name": "Spring launch", "segmentId": SEGMENT, **fields}


def stored_campaign(campaign_id: str) -> Campaign:
    from campaigns.store import get_campaign

    found = get_campaign(campaign_id)
    assert found is not None
    return found


@pytest.fixture
def marketing(token_for: Any) -> str:
    return str(token_for("marketing"))


@pytest.fixture
def people(aws: StackTemplate) -> list[Profile]:
    return [person(f"p{n}@example.com") for n in range(8)]


# --- the API ---------------------------------------------------------------------------------------------
def test_the_api_creates_edits_schedules_cancels_and_guards_roles(
    aws: StackTemplate, call_api: Call, token_for: Any, marketing: str, people: list[Profile]
) -> None:
    make_segment([p.profile_id for p in people])
    tpl = template()
    body = campaign_body(templateId=tpl.template_id)

    assert call_api("GET", "/marketing/campaigns", token=token_for("sales")).status == 403
    assert call_api("POST", "/marketing/campaigns", body=body, token=token_for("sales")).status == 403
    missing = call_api(
        "POST", "/marketing/campaigns", body=campaign_body(templateId="tpl-nope"), token=marketing
    )
    assert missing.status == 422
    assert missing.json()["errors"][0]["field"] == "templateId"
    no_segment = call_api(
        "POST", "/marketing/campaigns", body={**body, "segmentId": "seg-nope"}, token=marketing
    )
    assert no_segment.json()["errors"][0]["field"] == "segmentId"
    invalid = call_api(
        "POST", "/marketing/campaigns", body={"name": "x", "segmentId": SEGMENT}, token=marketing
    )
    assert invalid.status == 422

    created = call_api("POST", "/marketing/campaigns", body=body, token=marketing)
    assert created.status == 201
    campaign_id = created.json()["campaignId"]
    assert created.headers["etag"] == '"1"'
    assert created.json()["status"] == "draft"
    path = f"/marketing/campaigns/{campaign_id}"
    assert call_api("GET", path, token=token_for("admin")).json()["name"] == "Spring launch"
    listed = call_api("GET", "/marketing/campaigns", token=marketing).json()["items"]
    assert [c["campaignId"] for c in listed] == [campaign_id]

    renamed = {**body, "name": "Spring launch v2"}
    assert call_api("PUT", path, body=renamed, token=marketing).status == 428
    assert call_api("PUT", path, body=renamed, headers=[("if-match", '"7"')], token=marketing).status == 412
    edited = call_api("PUT", path, body=renamed, headers=[("if-match", '"1"')], token=marketing)
    assert edited.status == 200
    assert edited.headers["etag"] == '"2"'

    at = datetime.now(UTC) + timedelta(hours=2)
    scheduled = call_api("POST", f"{path}/send", body={"at": at.isoformat()}, token=marketing)
    assert scheduled.status == 202
    assert scheduled.json()["status"] == "scheduled"
    assert take(aws, "FanoutQueue") == []  # nothing sent before its time

    cancelled = call_api("POST", f"{path}/cancel", token=marketing)
    assert cancelled.json()["status"] == "cancelled"
    assert (
        call_api(
            "PUT", path, body=renamed, headers=[("if-match", cancelled.headers["etag"])], token=marketing
        ).status
        == 409
    )
    assert call_api("POST", f"{path}/send", body={}, token=marketing).status == 409
    # A stale scheduled start (it was cancelled) does nothing.
    from handlers.timers import campaign_timer as on_timer

    on_timer(
        Timer(
            kind="campaign",
            key=f"{campaign_id}:start",
            at=at,
            payload={"campaignId": campaign_id, "action": "start"},
        )
    )
    assert stored_campaign(campaign_id).status is CampaignStatus.CANCELLED

    assert (
        call_api("DELETE", path, headers=[("if-match", cancelled.headers["etag"])], token=marketing).status
        == 204
    )
    assert call_api("GET", path, token=marketing).status == 404
    assert call_api("GET", "/marketing/campaigns", token=marketing).json()["items"] == []


def test_a_scheduled_campaign_starts_when_its_timer_fires(
    aws: StackTemplate, call_api: Call, marketing: str, people: list[Profile]
) -> None:
    from handlers.timers import campaign_timer as on_timer

    make_segment([p.profile_id for p in people])
    tpl = template()
    created = call_api(
        "POST", "/marketing/campaigns", body=campaign_body(templateId=tpl.template_id), token=marketing
    )
    campaign_id = created.json()["campaignId"]
    at = datetime.now(UTC) + timedelta(days=1)
    call_api("POST", f"/marketing/campaigns/{campaign_id}/send", body={"at": at.isoformat()}, token=marketing)
    timer = Timer(
        kind="campaign",
        key=f"{campaign_id}:start",
        at=at,
        payload={"campaignId": campaign_id, "action": "start"},
    )

    on_timer(timer)
    on_timer(timer)  # delivered twice
    assert stored_campaign(campaign_id).status is CampaignStatus.SENDING
    assert drain_fanout(aws) == 2  # page 0 from each firing; the second copy does nothing
    requests = send_requests(aws)
    assert sorted(r.profile_id for r in requests) == sorted(p.profile_id for p in people)
    started = stored_campaign(campaign_id)
    assert started.status is CampaignStatus.SENT
    assert started.arms()[0].template_version == tpl.version  # frozen at the start


# --- fan-out ---------------------------------------------------------------------------------------------
def test_redelivered_pages_start_no_second_chain_and_enqueue_everyone_once(
    aws: StackTemplate, call_api: Call, marketing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FANOUT_PAGE_SIZE", "3")
    member_ids = [f"p-{n:02d}" for n in range(8)]  # three pages: 3 + 3 + 2
    make_segment(member_ids)
    tpl = template()
    created = call_api(
        "POST", "/marketing/campaigns", body=campaign_body(templateId=tpl.template_id), token=marketing
    )
    campaign_id = created.json()["campaignId"]
    send_path = f"/marketing/campaigns/{campaign_id}/send"
    assert call_api("POST", send_path, body={}, token=marketing).json()["status"] == "sending"
    assert call_api("POST", send_path, body={}, token=marketing).status == 202  # a client's retry

    pages = drain_fanout(aws, redeliver=True)

    assert pages == 4  # page 0 twice (the send and its retry), then pages 1 and 2 once each
    requests = send_requests(aws)
    assert sorted(r.profile_id for r in requests) == member_ids
    assert len({r.message_id for r in requests}) == len(member_ids)
    assert {r.variant for r in requests} == {"A"}
    assert stored_campaign(campaign_id).status is CampaignStatus.SENT
    # Sending it again once it is sent changes nothing either.
    assert call_api("POST", send_path, body={}, token=marketing).status == 409


@pytest.mark.parametrize("fanout_first", [True, False], ids=["fanout-then-crm", "crm-then-fanout"])
def test_a_fanout_page_and_idempotent_crm_creates_run_in_one_process(
    aws: StackTemplate, call_api: Call, marketing: str, token_for: Any, fanout_first: bool
) -> None:
    """Both use Powertools idempotency on one table; in the local stack they also share one process.
    Neither may configure the other's idempotency (a shared persistence layer once did: every CRM create
    with an Idempotency-Key then failed with a 500 after any campaign)."""
    make_segment(["p-01", "p-02"])
    tpl = template()
    created = call_api(
        "POST", "/marketing/campaigns", body=campaign_body(templateId=tpl.template_id), token=marketing
    )
    campaign_id = created.json()["campaignId"]
    sales = token_for("sales")

    def create_account() -> Any:
        return call_api(
            "POST",
            "/crm/accounts",
            body={"name": "Acme"},
            headers=[("idempotency-key", "acme-once")],
            token=sales,
        )

    def send_campaign() -> None:
        call_api("POST", f"/marketing/campaigns/{campaign_id}/send", body={}, token=marketing)
        drain_fanout(aws, redeliver=True)

    if fanout_first:
        send_campaign()
    first, second = create_account(), create_account()
    if not fanout_first:
        send_campaign()

    assert (first.status, second.status) == (201, 201)
    assert first.json()["accountId"] == second.json()["accountId"]
    assert sorted(r.profile_id for r in send_requests(aws)) == ["p-01", "p-02"]
    assert stored_campaign(campaign_id).status is CampaignStatus.SENT


# --- A/B -------------------------------------------------------------------------------------------------
def ab_split(campaign_id: str, member_ids: list[str], test_percentage: float) -> dict[str, str | None]:
    """The variant each member gets in the test phase of a two-variant campaign, None for the rest. Campaign
    ids are random, so this is computed with the fan-out's own hash rather than expecting a share."""
    from campaigns import abtest

    split = {pid: abtest.test_variant(campaign_id, pid, [1, 1], test_percentage) for pid in member_ids}
    return {pid: None if index is None else "AB"[index] for pid, index in split.items()}


def sent(requests: list[SendRequest]) -> list[tuple[str, str]]:
    return sorted((r.profile_id, r.variant) for r in requests)


def _count(campaign_id: str, variant: str, **counts: int) -> None:
    """Report counters as the sender, SES and tracking would have left them."""
    from mail.reports import Metric, ReportGroup
    from mail.store.reports import counter_update

    client = boto3.client("dynamodb")
    for metric, times in counts.items():
        for _ in range(times):
            client.transact_write_items(
                TransactItems=[counter_update(ReportGroup("campaign", campaign_id, variant), Metric(metric))]
            )


def test_an_ab_test_splits_the_test_group_then_sends_the_winner_to_the_rest(
    aws: StackTemplate, call_api: Call, marketing: str
) -> None:
    from handlers.timers import campaign_timer as on_timer

    member_ids = [f"p-{n:03d}" for n in range(120)]
    make_segment(member_ids)
    first, second = (
        template(),
        template(TemplateContent(**{**WELCOME.model_dump(), "subject": "Last chance"})),
    )
    body = campaign_body(
        variants=[{"templateId": first.template_id}, {"templateId": second.template_id}],
        abTest={"testPercentage": 40, "metric": "open", "decideAfterHours": 2},
    )
    campaign_id = call_api("POST", "/marketing/campaigns", body=body, token=marketing).json()["campaignId"]
    started = call_api("POST", f"/marketing/campaigns/{campaign_id}/send", body={}, token=marketing)
    assert started.json()["status"] == "testing"

    drain_fanout(aws)
    tested = send_requests(aws)
    assert stored_campaign(campaign_id).status is CampaignStatus.TESTING
    split = ab_split(campaign_id, member_ids, 40)
    assert sent(tested) == sorted((pid, variant) for pid, variant in split.items() if variant)
    templates = {"A": first.template_id, "B": second.template_id}
    assert all(r.template_id == templates[r.variant] for r in tested)
    pending = call_api("GET", f"/marketing/campaigns/{campaign_id}/report", token=marketing).json()
    assert pending["abTest"]["status"] == "pending"

    # B opens clearly more (45% vs 15% of 40 delivered each): pooled 0.3, z = 2.928, confidence 0.99659.
    _count(campaign_id, "A", delivered=40, opened=6)
    _count(campaign_id, "B", delivered=40, opened=18)
    decide = Timer(
        kind="campaign",
        key=f"{campaign_id}:decide",
        at=datetime.now(UTC),
        payload={"campaignId": campaign_id, "action": "decide"},
    )
    on_timer(decide)
    decided = stored_campaign(campaign_id)
    assert decided.status is CampaignStatus.SENDING
    assert decided.decision is not None
    assert (decided.decision.winner, decided.decision.sent_to_rest) == ("B", "B")
    on_timer(decide)  # a repeated firing: the same decision, no second chain

    drain_fanout(aws, redeliver=True)
    rest = send_requests(aws)
    assert sent(rest) == sorted((pid, "B") for pid, variant in split.items() if variant is None)
    assert all(r.template_id == second.template_id for r in rest)
    assert stored_campaign(campaign_id).status is CampaignStatus.SENT

    report = call_api("GET", f"/marketing/campaigns/{campaign_id}/report", token=marketing).json()
    ab = report["abTest"]
    assert (ab["status"], ab["winner"], ab["sentToRest"], ab["metric"]) == ("decided", "B", "B", "open")
    assert ab["confidence"] == pytest.approx(0.996585, abs=1e-6)
    assert ab["pValue"] == pytest.approx(1 - ab["confidence"], abs=1e-6)
    assert [v["variant"] for v in report["variants"]] == ["A", "B"]
    assert report["variants"][1]["rates"]["openRate"] == 0.45


def test_an_ab_test_on_noise_sends_the_control_to_the_rest(
    aws: StackTemplate, call_api: Call, marketing: str
) -> None:
    from handlers.timers import campaign_timer as on_timer

    member_ids = [f"p-{n:03d}" for n in range(40)]
    make_segment(member_ids)
    first, second = template(), template()
    body = campaign_body(
        variants=[{"templateId": first.template_id}, {"templateId": second.template_id}],
        abTest={"testPercentage": 50, "metric": "click", "decideAfterHours": 1},
    )
    campaign_id = call_api("POST", "/marketing/campaigns", body=body, token=marketing).json()["campaignId"]
    call_api("POST", f"/marketing/campaigns/{campaign_id}/send", body={}, token=marketing)
    drain_fanout(aws)
    send_requests(aws)
    _count(campaign_id, "A", delivered=50, clicked=5)
    _count(campaign_id, "B", delivered=50, clicked=7)
    on_timer(
        Timer(
            kind="campaign",
            key="k",
            at=datetime.now(UTC),
            payload={"campaignId": campaign_id, "action": "decide"},
        )
    )
    decision = stored_campaign(campaign_id).decision
    assert decision is not None
    assert (decision.winner, decision.sent_to_rest) == (None, "A")
    assert "no significant difference" in decision.reason
    drain_fanout(aws)
    split = ab_split(campaign_id, member_ids, 50)
    assert sent(send_requests(aws)) == sorted((pid, "A") for pid, variant in split.items() if variant is None)


# --- reports ---------------------------------------------------------------------------------------------
def _ses(stack: StackTemplate, kind: str, message_id: str, to: str, sns_id: str, **body: Any) -> None:
    from email_support import ses_notification

    from handlers.email_events import lambda_handler

    notification = ses_notification(kind, message_id=message_id, to=to, at=datetime.now(UTC), **body)
    event = sns_event(notification, topic_arn=stack.physical["EmailEventsTopic"]["Ref"], message_id=sns_id)
    lambda_handler(event, LambdaContext(function_name="EmailEventsFunction"))  # type: ignore[arg-type]


def test_reports_count_every_message_once_whatever_is_repeated(
    aws: StackTemplate, call_api: Call, marketing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaigns.conversions import on_profile_changes
    from leadstream.profiles import ProfileChange

    monkeypatch.setenv("EMAIL_SCANNER_WINDOW_SECONDS", "0")  # a person may click at once in this test
    ada, bob = person("ada@example.com"), person("bob@example.com")
    make_segment([ada.profile_id, bob.profile_id])
    tpl = template()
    body = campaign_body(
        templateId=tpl.template_id, conversion={"activityKey": "Order Completed", "windowDays": 3}
    )
    campaign_id = call_api("POST", "/marketing/campaigns", body=body, token=marketing).json()["campaignId"]
    call_api("POST", f"/marketing/campaigns/{campaign_id}/send", body={}, token=marketing)
    drain_fanout(aws)
    requests = sorted(send_requests(aws), key=lambda r: r.profile_id != ada.profile_id)
    run_sender(raw_event(requests))
    run_sender(raw_event(requests))  # the sender's messages redelivered
    to_ada = requests[0]
    for sns_id in ("sns-1", "sns-1", "sns-2"):  # a redelivered notification, and SES saying it twice
        _ses(
            aws,
            "Delivery",
            to_ada.message_id,
            "ada@example.com",
            sns_id,
            delivery={"timestamp": datetime.now(UTC).isoformat(), "recipients": ["ada@example.com"]},
        )
    links = _links_for("ada@example.com")
    for _ in range(2):
        assert call_api("GET", links["open"], headers=[BROWSER]).status == 200
        assert call_api("GET", links["click"], headers=[BROWSER]).status == 302
        assert call_api("POST", links["unsubscribe"], headers=[BROWSER]).status == 200
    # A scanner's open of Bob's email counts nothing.
    assert (
        call_api(
            "GET", _links_for("bob@example.com")["open"], headers=[("user-agent", "python-requests/2.31")]
        ).status
        == 200
    )

    bought = ada.model_copy(
        update={"activity": {"Order Completed": {datetime.now(UTC).date().isoformat(): 1}}}
    )
    change = ProfileChange(old=ada, new=bought)
    assert on_profile_changes([change]) == 1
    assert on_profile_changes([change]) == 0  # the stream record redelivered
    unrelated = ada.model_copy(
        update={"activity": {"Page Viewed": {datetime.now(UTC).date().isoformat(): 1}}}
    )
    assert on_profile_changes([ProfileChange(old=ada, new=unrelated)]) == 0

    report = call_api("GET", f"/marketing/campaigns/{campaign_id}/report", token=marketing).json()
    (variant,) = report["variants"]
    counts = {
        k: variant[k]
        for k in ("sent", "delivered", "opened", "clicked", "unsubscribed", "converted", "bounced")
    }
    assert counts == {
        "sent": 2,
        "delivered": 1,
        "opened": 1,
        "clicked": 1,
        "unsubscribed": 1,
        "converted": 1,
        "bounced": 0,
    }
    assert report["total"]["sent"] == 2
    assert variant["rates"]["deliveryRate"] == 0.5
    assert variant["rates"]["openRate"] == 1.0
    from mail.store.sends import get_send

    record = get_send(to_ada.message_id)
    assert record is not None
    marks = (record.opened_at, record.clicked_at, record.unsubscribed_at, record.converted_at)
    assert all(mark is not None for mark in marks)


def _links_for(address: str) -> dict[str, str]:
    message = next(m for m in ses_messages() if address in str(m["To"]))
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    found = {kind: html.split(f"/email/{kind}/", 1)[1].split('"', 1)[0] for kind in ("open", "click")}
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    return {
        "open": f"/email/open/{found['open']}",
        "click": f"/email/click/{found['click']}",
        "unsubscribe": "/email/" + unsubscribe.split("/email/", 1)[1],
    }
