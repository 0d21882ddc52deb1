"""Campaign fan-out: time, SQS and DynamoDB calls per recipient, and the FanoutFunction's peak memory at
1k / 10k / 100k segment members; SES calls per recipient of the sender on a delivered sample.

Each size runs on an empty moto with the template's tables and queues (as the local stack creates them).
Members are written directly with batch writes (the segment store's layout), the campaign is started
through its lifecycle code, and FanoutQueue messages are handed to `handlers.fanout.lambda_handler` as
Lambda would, until the queue is empty. Peak memory is tracemalloc's peak inside FanoutFunction
invocations (moto runs in the same process, so its handling of the page's calls is included: an upper
bound); it must not grow with the segment.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench import stack_on_moto

SIZES = tuple(int(s) for s in os.environ.get("BENCH_FANOUT_SIZES", "1000,10000,100000").split(","))
# SES calls per recipient do not depend on the sample size; a large sample would measure moto's SES.
SENDER_SAMPLE = int(os.environ.get("BENCH_SENDER_SAMPLE", "100"))
SEGMENT_ID = "seg-bench"


@dataclass(frozen=True)
class FanoutCost:
    members: int
    seconds: float
    pages: int
    sqs_calls: int
    dynamodb_calls: int
    peak_bytes: int
    query_peak_bytes: int  # one page's Query alone: moto's share of the peak
    enqueued: int

    @property
    def sqs_per_recipient(self) -> float:
        return self.sqs_calls / self.members

    @property
    def dynamodb_per_recipient(self) -> float:
        return self.dynamodb_calls / self.members


@dataclass(frozen=True)
class SenderCost:
    recipients: int
    sent: int
    ses_calls: int
    ses_calls_on_redelivery: int
    seconds: float


@dataclass(frozen=True)
class FanoutResult:
    sizes: list[FanoutCost]
    sender: SenderCost


@dataclass
class _Context:
    function_name: str = "FanoutFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:FanoutFunction"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class _Calls:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def install(self, client: Any, service: str) -> None:
        def count(model: Any, **_: Any) -> None:
            self.calls[f"{service}:{model.name}"] += 1

        client.meta.events.register("before-parameter-build", count)

    def total(self, service: str) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith(f"{service}:"))


def _in_fresh_moto[T](run: Callable[[Any, _Calls], T]) -> T:
    with stack_on_moto() as template:
        from leadstream.aws import dynamodb, sesv2, sqs

        os.environ["EMAIL_SEND_RATE"] = "0"  # pacing off: the sender's calls, not its rate
        calls = _Calls()
        calls.install(dynamodb(), "dynamodb")
        calls.install(sqs(), "sqs")
        calls.install(sesv2(), "ses")
        return run(template, calls)


def _segment(members: list[str]) -> None:
    from audience.segments import Segment
    from audience.store import save_segment
    from leadstream import keys
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import batch_put

    now = datetime.now(UTC)
    save_segment(
        Segment.model_validate(
            {
                "segmentId": SEGMENT_ID,
                "name": "Bench",
                "condition": {"type": "tag", "op": "has", "tag": "bench"},
                "version": 1,
                "createdAt": now,
                "updatedAt": now,
            }
        )
    )
    items = [
        {**keys.segment_member_key(SEGMENT_ID, pid), "segmentId": SEGMENT_ID, "profileId": pid}
        for pid in members
    ]
    batch_put(get_settings().main_table, items)


def _start_campaign() -> str:
    from campaigns.launch import campaigns
    from campaigns.models import CampaignContent, SendBody
    from mail.template_models import TemplateContent
    from mail.templates import Templates
    from mail.templates import dynamo_store as template_store

    template = Templates(store=template_store()).create(
        TemplateContent(
            name="Bench",
            subject="Hello {{ first_name | default('there') }}",
            html='<html><body><p>Hi!</p><a href="https://example.com/offer">Offer</a></body></html>',
        ),
        user="bench",
    )
    lifecycle = campaigns()
    campaign = lifecycle.create(
        CampaignContent.model_validate(
            {"name": "Bench", "segmentId": SEGMENT_ID, "templateId": template.template_id}
        ),
        user="bench",
    )
    lifecycle.send(campaign.campaign_id, SendBody(), user="bench")
    return campaign.campaign_id


def _take(url: str) -> list[dict[str, Any]]:
    import boto3

    client = boto3.client("sqs")  # the harness's own client: not counted
    response = client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, AttributeNames=["All"]
    )
    messages = response.get("Messages", [])
    for message in messages:
        client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


class _SendQueueSink:
    """Answers the FanoutFunction's SendMessageBatch calls to the send queue itself, counting the requests.

    moto's SQS walks every message already in a queue for each entry it adds, so 100,000 queued requests
    make the run quadratic (hours); SQS's cost does not grow with the queue. The call still goes through
    the function's own client (counted like any other); only moto's answer is replaced by "all accepted".
    """

    def __init__(self, client: Any) -> None:
        self.requests = 0
        client.meta.events.register("before-parameter-build.sqs.SendMessageBatch", self._count)
        client.meta.events.register("before-call.sqs.SendMessageBatch", self._accept)

    def _count(self, params: dict[str, Any], **_: Any) -> None:
        self.requests += len(params.get("Entries", []))

    def _accept(self, **_: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse

        return AWSResponse("https://sqs.local", 200, {}, None), {"Successful": [], "Failed": []}


def _fan_out(template: Any, calls: _Calls, size: int) -> FanoutCost:
    from handlers.fanout import lambda_handler
    from leadstream_local.lambda_events import sqs_record

    _segment([f"p-{n:07d}" for n in range(size)])
    url, arn = template.physical["FanoutQueue"]["Ref"], template.physical["FanoutQueue"]["Arn"]
    calls.calls.clear()
    started = time.perf_counter()
    _start_campaign()
    from leadstream.aws import sqs

    sink = _SendQueueSink(sqs())
    pages, peak = 0, 0
    trace_every = max(1, size // 5_000)  # tracing slows moto too: about five traced pages per size
    while messages := _take(url):
        for message in messages:
            event = {"Records": [sqs_record(message, queue_arn=arn)]}
            traced = pages % trace_every == 0
            if traced:
                tracemalloc.start()
            response = lambda_handler(event, _Context())  # type: ignore[arg-type]
            if traced:
                peak = max(peak, tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            if response.get("batchItemFailures"):
                raise RuntimeError(f"a fan-out page failed: {response}")
            pages += 1
    seconds = time.perf_counter() - started
    return FanoutCost(
        query_peak_bytes=_query_peak(),
        members=size,
        seconds=seconds,
        pages=pages,
        sqs_calls=calls.total("sqs"),
        dynamodb_calls=calls.total("dynamodb"),
        peak_bytes=peak,
        enqueued=sink.requests,
    )


def _query_peak() -> int:
    """tracemalloc's peak over one page's Query alone: moto materialises the whole partition to answer it
    (DynamoDB reads one page), which is the part of the invocation's peak that grows with the segment."""
    from audience.store import member_ids_page

    tracemalloc.start()
    member_ids_page(SEGMENT_ID, limit=1000, start=None)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _sender(template: Any, calls: _Calls) -> SenderCost:
    from handlers.email_sender import lambda_handler as sender
    from leadstream import keys
    from leadstream.profiles import Profile
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import batch_put
    from leadstream.store.profiles import profile_item
    from leadstream_local.lambda_events import sqs_record

    profiles = []
    for n in range(SENDER_SAMPLE):
        profile = Profile(profile_id=f"p-{n:07d}", version=1, traits={"firstName": f"Person {n}"})
        profile.email = f"person{n}@example.org"
        profiles.append(profile_item(profile))
    batch_put(get_settings().main_table, profiles)
    _segment([f"p-{n:07d}" for n in range(SENDER_SAMPLE)])
    assert keys  # the member layout is the segment store's
    fan_url, fan_arn = template.physical["FanoutQueue"]["Ref"], template.physical["FanoutQueue"]["Arn"]
    _start_campaign()
    from handlers.fanout import lambda_handler as fanout

    while messages := _take(fan_url):
        for message in messages:
            fanout({"Records": [sqs_record(message, queue_arn=fan_arn)]}, _Context())  # type: ignore[arg-type]
    send_url, send_arn = (
        template.physical["EmailSendQueue"]["Ref"],
        template.physical["EmailSendQueue"]["Arn"],
    )
    calls.calls.clear()
    started = time.perf_counter()
    last: dict[str, Any] = {}
    while messages := _take(send_url):
        last = {"Records": [sqs_record(message, queue_arn=send_arn) for message in messages]}
        sender(last, _Context(function_name="EmailSenderFunction"))  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    ses_calls = calls.calls["ses:SendEmail"]
    calls.calls.clear()
    sender(last, _Context(function_name="EmailSenderFunction"))  # type: ignore[arg-type]  # redelivered
    from mail.store.reports import report_for

    sent = sum(counters.sent for counters in report_for("campaign", _only_campaign()).values())
    return SenderCost(
        recipients=SENDER_SAMPLE,
        sent=sent,
        ses_calls=ses_calls,
        ses_calls_on_redelivery=calls.calls["ses:SendEmail"],
        seconds=seconds,
    )


def _only_campaign() -> str:
    from campaigns.store import list_campaigns

    campaigns, _ = list_campaigns(limit=1, start_key=None)
    return campaigns[0].campaign_id


def measure() -> FanoutResult:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    sizes = [_in_fresh_moto(lambda template, calls, n=size: _fan_out(template, calls, n)) for size in SIZES]
    return FanoutResult(sizes=sizes, sender=_in_fresh_moto(_sender))


def render(result: FanoutResult) -> list[str]:
    lines = [
        "## Campaign fan-out: segment members into send requests, moto in-process",
        "",
        "Command: `make bench` (bench/fanout.py). A one-template campaign to a segment of N members",
        "(written directly with batch writes), each size on an empty moto with the template's queues;",
        "FanoutQueue messages go to `handlers.fanout.lambda_handler` as Lambda delivers them (one page of",
        "1000 per message) until the queue is empty. Time includes moto. SQS and DynamoDB calls are the",
        "functions' own (the start included); peak memory is tracemalloc's peak inside a FanoutFunction",
        "invocation, moto's in-process work on that page included (an upper bound of ours). The send",
        "queue's SendMessageBatch answers come from the harness (moto's SQS walks every queued message per",
        "added entry, which would make 100,000 requests take hours); the calls are made and counted.",
        "",
        "| members | time s | pages | send requests | SQS calls/recipient | DynamoDB calls/recipient "
        "| peak memory per invocation | of which moto's Query alone |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cost in result.sizes:
        lines.append(
            f"| {cost.members:,} | {cost.seconds:.1f} | {cost.pages} | {cost.enqueued:,} "
            f"| {cost.sqs_per_recipient:.3f} | {cost.dynamodb_per_recipient:.4f} "
            f"| {cost.peak_bytes / 1_048_576:.1f} MiB | {cost.query_peak_bytes / 1_048_576:.1f} MiB |"
        )
    sender = result.sender
    lines += [
        "",
        "Our memory stays flat: one page of ids and requests, whatever the segment's size; what grows is",
        "moto's in-process Query, which materialises the whole segment partition to return one page",
        "(DynamoDB reads only the page), as the last column shows. SQS calls per",
        "recipient are one SendMessageBatch per 10 requests plus one message per page (≈ 0.101);",
        "DynamoDB calls per page are the Query, the campaign's GetItem and the idempotency record's writes.",
        "",
        f"Sender on a delivered sample of {sender.recipients:,} recipients (pacing off, moto's SES): "
        f"**{sender.ses_calls / sender.recipients:.3f} SES calls per recipient** ({sender.ses_calls:,} "
        f"SendEmail for {sender.sent:,} counted sent, {sender.seconds:.1f} s); the last batch delivered "
        f"again made {sender.ses_calls_on_redelivery} more. The calls per recipient do not depend on the",
        "sample's size.",
        "",
    ]
    return lines
