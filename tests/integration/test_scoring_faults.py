"""Fault injection: a failure at every single AWS call a handoff batch makes, then redelivery.

Whatever call fails (DynamoDB throttling that outlasted the client's retries, or the invocation dying right
after a call succeeded), redelivering the batch until it goes through leaves the same scores as a run
without faults, and makes one lead, one email and one bus event: never two, and none lost, except when the
invocation dies between claiming a notification and making the call (the outcome is unknown; it is then
not repeated and the handoff record says so).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from scoring_support import T0, Stream, add_sales_user, bus_events, sent_emails, tracked

from crm.leads import handoff_lead_id
from crm.store.leads import get_lead
from leadstream.aws import dynamodb, eventbridge, sesv2
from leadstream.profiles import IdentityRef, Profile
from leadstream.scores import Stage
from leadstream.store import profiles as profile_store
from scoring.store import handoffs as handoff_store
from scoring.store.config import scoring_config

MAX_DELIVERIES = 10


class Crash(BaseException):
    """The invocation dies (a timeout, the container killed): not an error our code could catch."""


@dataclass
class Faults:
    """Counts every AWS call of our clients; makes the `at`-th one fail, once."""

    kind: str  # "throttle": the call fails before doing anything; "crash": it succeeds, then we die
    at: int
    calls: int = 0
    hit: str = ""  # what the failing call was
    params: dict[str, Any] = field(default_factory=dict)
    active: bool = True

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        self.calls += 1
        if self.calls == self.at:
            self.hit, self.params = model.name, params
            if self.kind == "throttle":
                code = (
                    "ThrottlingException"
                    if model.name in ("SendEmail", "PutEvents")
                    else ("ProvisionedThroughputExceededException")
                )
                raise ClientError({"Error": {"Code": code, "Message": "injected"}}, model.name)

    def after(self, model: Any, **_: Any) -> None:
        if self.active and self.kind == "crash" and self.calls == self.at and self.hit == model.name:
            raise Crash(f"died after {model.name}")

    @property
    def hit_a_claim(self) -> str | None:
        """The notification step whose claim was written just before the invocation died, if any."""
        if self.kind != "crash" or self.hit != "UpdateItem":
            return None
        request = json.loads(self.params["body"])  # the serialized request, as before-call sees it
        if request.get("UpdateExpression") != "SET #s = :state":
            return None
        return str(request["ExpressionAttributeNames"]["#s"])


@pytest.fixture
def install(aws: Any) -> Iterator[Callable[[Faults], None]]:
    installed: list[tuple[Any, str, Any]] = []

    def install_faults(faults: Faults) -> None:
        for client in (dynamodb(), sesv2(), eventbridge()):
            for event, handler in (("before-call", faults.before), ("after-call", faults.after)):
                client.meta.events.register(event, handler)
                installed.append((client, event, handler))

    yield install_faults
    for client, event, handler in installed:
        client.meta.events.unregister(event, handler)


def funnel(n: int) -> list[Any]:
    anon, email = f"visitor-{n}", f"buyer{n}@corp.io"
    return [
        tracked("page", anonymousId=anon, at=T0, context={"page": {"url": "https://x.io/pricing"}}),
        tracked("track", anonymousId=anon, event="Content Downloaded", at=T0 + timedelta(minutes=1)),
        tracked(
            "identify",
            anonymousId=anon,
            traits={"email": email, "title": "CTO"},
            at=T0 + timedelta(minutes=2),
        ),
        tracked(
            "track",
            anonymousId=anon,
            event="Form Submitted",
            at=T0 + timedelta(minutes=3),
            properties={"formId": "demo", "handRaiser": True},
            context={"traits": {"email": email}},
        ),
    ]


def deliver_until_done(stream: Stream, events: list[Any]) -> int:
    """Deliver, and redeliver as Lambda would after a function error or reported failures."""
    for attempt in range(1, MAX_DELIVERIES + 1):
        try:
            if stream.deliver(events) == {"batchItemFailures": []}:
                return attempt
        except (Crash, ClientError):
            continue
    raise AssertionError(f"the batch still failed after {MAX_DELIVERIES} deliveries")


def person(n: int) -> Profile:
    profile = profile_store.profile_of(IdentityRef(kind="email", value=f"buyer{n}@corp.io"))
    assert profile is not None
    return profile


def outcome(aws: Any, n: int) -> dict[str, Any]:
    profile = person(n)
    lead_id = handoff_lead_id(profile.profile_id, 1)
    return {
        "engagement": round(profile.score.engagement_at(T0 + timedelta(minutes=3)), 9),
        "fit": profile.score.fit,
        "tags": profile.tags,
        "stage": profile.stage,
        "handoffs": profile.score.handoff.number if profile.score.handoff else 0,
        "leads": [lid for lid in (lead_id, handoff_lead_id(profile.profile_id, 2)) if get_lead(lid)],
        "emails": sum(lead_id in message.body for message in sent_emails()),
        "events": sum(event["detail"]["leadId"] == lead_id for event in bus_events(aws)),
    }


@pytest.mark.parametrize("kind", ["throttle", "crash"])
def test_a_fault_at_any_call_then_redelivery_makes_everything_exactly_once(
    aws: Any, install: Callable[[Faults], None], kind: str
) -> None:
    add_sales_user(aws, "sam@leadstream.test")
    scoring_config()
    stream = Stream(aws, store_events=True)
    counting = Faults(kind="count", at=0)
    install(counting)
    deliver_until_done(stream, funnel(0))
    counting.active = False
    baseline = outcome(aws, 0)
    assert baseline["stage"] is Stage.MQL
    assert (baseline["leads"], baseline["emails"], baseline["events"]) == ([baseline["leads"][0]], 1, 1)
    total = counting.calls  # every call of one fault-free handoff batch

    for at in range(1, total + 1):
        faults = Faults(kind=kind, at=at)
        install(faults)
        deliveries = deliver_until_done(stream, funnel(at))
        faults.active = False
        assert faults.hit, f"no call {at} was made"
        got = outcome(aws, at)
        lost_step = faults.hit_a_claim
        expected = {
            **baseline,
            "leads": [handoff_lead_id(person(at).profile_id, 1)],
            "emails": 0 if lost_step == "email" else 1,
            "events": 0 if lost_step == "event" else 1,
        }
        assert got == expected, f"fault ({kind}) at call {at} ({faults.hit}), {deliveries} deliveries"
        [record] = handoff_store.records_of(person(at).profile_id)
        assert record.completed_at is not None
        if lost_step:
            state = getattr(record, lost_step)
            assert state is not None
            assert state.status == "uncertain"
