"""Consent: what honouring it costs on the two hot paths, counted in AWS calls, in one run.

- The sender: a sample of recipients sent through `handlers.email_sender` in SQS batches of 10, twice in
  fresh moto: a campaign without a topic to people without consents (the baseline: as before consent
  existed), and a campaign on a topic to people who each hold consents for six purposes, a third of them
  opted out of the campaign's topic. The reads per batch must be the same (consent is on the profile the
  sender loads anyway); an opted-out person costs one transaction (the skipped record and its counter)
  instead of a claim, SES and the outcome.
- Tracking: `POST /v1/batch` requests of 100 events through `handlers.tracking_api`, none declining
  (the baseline) and half of them declining tracking: the calls per event must not rise (no read on the
  tracking path), and a declined event is written nowhere.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import use_moto_environment
from bench.fanout import _Calls, _Context, _in_fresh_moto, _segment, _take

RECIPIENTS = int(os.environ.get("BENCH_CONSENT_RECIPIENTS", "120"))
TOPIC = "news"
OPTED_OUT_EVERY = 3  # every third person opted out of the topic
REQUESTS = 20
EVENTS_PER_REQUEST = 100


@dataclass(frozen=True)
class SenderRun:
    label: str
    recipients: int
    sent: int
    skipped: int
    calls: dict[str, int]  # DynamoDB calls by operation, SES SendEmail as `ses:SendEmail`
    seconds: float

    def per_recipient(self, prefix: str = "dynamodb:") -> float:
        return sum(n for name, n in self.calls.items() if name.startswith(prefix)) / self.recipients

    def reads_per_batch(self) -> float:
        batches = -(-self.recipients // 10)
        reads = sum(n for name, n in self.calls.items() if name in READS)
        return reads / batches


READS = {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"}


@dataclass(frozen=True)
class TrackingRun:
    label: str
    events: int
    stored: int
    dynamodb_calls: int

    @property
    def per_event(self) -> float:
        return self.dynamodb_calls / self.events


@dataclass(frozen=True)
class ConsentResult:
    senders: list[SenderRun]
    tracking: list[TrackingRun]


def _people(with_consents: bool) -> None:
    from leadstream.consents import Consent
    from leadstream.profiles import Profile
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import batch_put
    from leadstream.store.profiles import profile_item

    at = "2026-03-01T00:00:00.000000Z"
    items = []
    for n in range(RECIPIENTS):
        profile = Profile(profile_id=f"p-{n:07d}", version=1, traits={"firstName": f"Person {n}"})
        profile.email = f"person{n}@example.org"
        if with_consents:
            purposes = ["tracking", "email", *(f"topic:t{k}" for k in range(3)), f"topic:{TOPIC}"]
            for purpose in purposes:
                granted = not (purpose == f"topic:{TOPIC}" and n % OPTED_OUT_EVERY == 0)
                text = f"Agreed to {purpose}"
                profile.consents[purpose] = Consent(granted=granted, source="api", text=text, at=at, stamp=at)
        items.append(profile_item(profile))
    batch_put(get_settings().main_table, items)


def _campaign(topic: str | None) -> str:
    from campaigns.launch import campaigns
    from campaigns.models import CampaignContent, SendBody
    from leadstream import clock
    from mail.store.topics import save
    from mail.template_models import TemplateContent
    from mail.templates import Templates
    from mail.templates import dynamo_store as template_store
    from mail.topic_models import Topic, TopicCreate

    if topic is not None:
        save(
            Topic.new(
                TopicCreate.model_validate({"topicId": topic, "name": "News"}), at=clock.now(), user="b"
            )
        )
    template = Templates(store=template_store()).create(
        TemplateContent(name="Bench", subject="Hello", html="<html><body><p>Hi!</p></body></html>"),
        user="bench",
    )
    lifecycle = campaigns()
    body: dict[str, Any] = {"name": "Bench", "segmentId": "seg-bench", "templateId": template.template_id}
    if topic is not None:
        body["topicId"] = topic
    campaign = lifecycle.create(CampaignContent.model_validate(body), user="bench")
    lifecycle.send(campaign.campaign_id, SendBody(), user="bench")
    return campaign.campaign_id


def _send(label: str, topic: str | None, with_consents: bool) -> Callable[[Any, _Calls], SenderRun]:
    def run(template: Any, calls: _Calls) -> SenderRun:
        from handlers.email_sender import lambda_handler as sender
        from handlers.fanout import lambda_handler as fanout
        from leadstream_local.lambda_events import sqs_record
        from mail.store.reports import report_for

        _people(with_consents)
        _segment([f"p-{n:07d}" for n in range(RECIPIENTS)])
        campaign_id = _campaign(topic)
        fan_url, fan_arn = template.physical["FanoutQueue"]["Ref"], template.physical["FanoutQueue"]["Arn"]
        while messages := _take(fan_url):
            for message in messages:
                fanout({"Records": [sqs_record(message, queue_arn=fan_arn)]}, _Context())  # type: ignore[arg-type]
        url, arn = template.physical["EmailSendQueue"]["Ref"], template.physical["EmailSendQueue"]["Arn"]
        calls.calls.clear()
        started = time.perf_counter()
        while messages := _take(url):
            event = {"Records": [sqs_record(message, queue_arn=arn) for message in messages]}
            sender(event, _Context(function_name="EmailSenderFunction"))  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
        counted = report_for("campaign", campaign_id)
        return SenderRun(
            label=label,
            recipients=RECIPIENTS,
            sent=sum(c.sent for c in counted.values()),
            skipped=sum(c.skipped for c in counted.values()),
            calls=dict(calls.calls),
            seconds=seconds,
        )

    return run


def _track(label: str, declined_share: int) -> Callable[[Any, _Calls], TrackingRun]:
    """`declined_share`: every n-th event declines tracking (0: none)."""

    def run(template: Any, calls: _Calls) -> TrackingRun:
        from handlers.tracking_api import lambda_handler
        from leadstream.settings import get_settings
        from leadstream_local.lambda_events import http_api_event
        from tracking.sources import Source
        from tracking.store.sources import put_source

        put_source(Source(source_id="src-bench", name="Bench", write_key="bench-write-key-01"))
        basic = "Basic " + base64.b64encode(b"bench-write-key-01:").decode()
        calls.calls.clear()
        for r in range(REQUESTS):
            batch = []
            for e in range(EVENTS_PER_REQUEST):
                n = r * EVENTS_PER_REQUEST + e
                event: dict[str, Any] = {"type": "track", "event": "Viewed", "anonymousId": f"a-{n}",
                                         "messageId": f"m-{n}", "properties": {"n": n}}  # fmt: skip
                if declined_share and n % declined_share == 0:
                    event["context"] = {"consent": {"categoryPreferences": {"Analytics": False}}}
                batch.append(event)
            request = http_api_event(
                method="POST",
                path="/v1/batch",
                route_key="POST /v1/{type}",
                path_parameters={"type": "batch"},
                headers=[("content-type", "application/json"), ("authorization", basic)],
                body=json.dumps({"batch": batch}).encode(),
            )
            response = lambda_handler(request, _Context(function_name="TrackingFunction"))  # type: ignore[arg-type]
            assert response["statusCode"] == 200, response
        dynamodb_calls = sum(n for name, n in calls.calls.items() if name.startswith("dynamodb:"))
        import boto3

        stored = boto3.client("dynamodb").scan(TableName=get_settings().events_table, Select="COUNT")["Count"]
        return TrackingRun(label, REQUESTS * EVENTS_PER_REQUEST, stored, dynamodb_calls)

    return run


def measure() -> ConsentResult:
    use_moto_environment()
    senders = [
        _in_fresh_moto(_send("no topic, no consents (baseline)", None, with_consents=False)),
        _in_fresh_moto(_send(f"topic, 6 consents each, 1 in {OPTED_OUT_EVERY} opted out", TOPIC, True)),
    ]
    tracking = [
        _in_fresh_moto(_track("no event declines (baseline)", 0)),
        _in_fresh_moto(_track("every second event declines tracking", 2)),
    ]
    return ConsentResult(senders=senders, tracking=tracking)


def render(result: ConsentResult) -> list[str]:
    base, topic = result.senders
    lines = [
        "## Consent: what honouring it costs the sender and tracking, moto in-process",
        "",
        "Command: `make bench ONLY=consent` (bench/consent.py).",
        f"The sender: {RECIPIENTS} recipients through `handlers.email_sender` in SQS batches of 10, each run",
        "on a fresh moto (the fan-out made the requests); the baseline is a campaign without a topic to",
        f"people without consents, as before consent existed. Tracking: {REQUESTS} `POST /v1/batch` requests",
        f"of {EVENTS_PER_REQUEST} events through `handlers.tracking_api`; the baseline has no event",
        "declining tracking.",
        "",
        "| sender run | sent | skipped | DynamoDB calls/recipient | reads per batch of 10 "
        "| SES calls/recipient |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in result.senders:
        lines.append(
            f"| {run.label} | {run.sent} | {run.skipped} | {run.per_recipient():.2f} | "
            f"{run.reads_per_batch():.2f} | {run.per_recipient('ses:'):.2f} |"
        )
    extra_reads = topic.reads_per_batch() - base.reads_per_batch()
    lines += [
        "",
        f"Extra reads per batch for consent: **{extra_reads:+.2f}** (the consents are on the profile the",
        "sender reads anyway). A skipped recipient costs one TransactWriteItems (the final record and the",
        "report's `skipped` counter) and no SES call, instead of the claim, SES and the outcome. Calls by",
        "operation:",
        "",
        "| sender run | " + " | ".join(sorted({*base.calls, *topic.calls})) + " |",
        "| --- | " + " | ".join("---" for _ in sorted({*base.calls, *topic.calls})) + " |",
    ]
    for run in result.senders:
        names = sorted({*base.calls, *topic.calls})
        lines.append(f"| {run.label} | " + " | ".join(str(run.calls.get(name, 0)) for name in names) + " |")
    lines += [
        "",
        "| tracking run | events | stored | DynamoDB calls/event |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {r.label} | {r.events:,} | {r.stored:,} | {r.per_event:.3f} |" for r in result.tracking]
    lines += [
        "",
        "A declined event is dropped before the write, with no read to decide it: the calls per event",
        "can only fall (the target of the ingestion section, ≤ 0.05, holds either way).",
    ]
    return lines
