"""A segment on the local stack: created over the API, people enter from their tracking events (the
profile stream), and a behaviour window expires on the person's own timer when the local clock passes it,
without any rebuild."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from stack_client import StackClient

from leadstream_local.stack import LocalStack

pytestmark = pytest.mark.e2e


def test_membership_follows_events_and_expires_by_the_clock(local_stack: LocalStack) -> None:
    marketing = StackClient(local_stack, role="marketing")
    website = StackClient(local_stack)
    event = f"Pricing Compared {uuid.uuid4().hex[:6]}"
    segment = marketing.ok(
        "POST",
        "/marketing/segments",
        {
            "name": "Comparing prices this week",
            "condition": {"type": "activity", "key": event, "op": "at_least", "count": 2, "days": 7},
        },
    )
    path = f"/marketing/segments/{segment['segmentId']}"
    # The definition counts at once: no clock moved. Its backfill (which finds nobody yet) runs now too.
    assert local_stack.wait_idle()

    (user, keen), (_, idle) = website.known_people(
        {"email": f"keen-{uuid.uuid4().hex[:6]}@example.org", "firstName": "Kai"},
        {"email": f"idle-{uuid.uuid4().hex[:6]}@example.org"},
    )
    website.track("track", {"userId": user, "event": event})
    assert marketing.ok("GET", f"{path}/count")["count"] == 0  # once is not enough
    website.track("track", {"userId": user, "event": event})

    assert marketing.ok("GET", f"{path}/count")["count"] == 1
    members = marketing.ok("GET", f"{path}/members")["items"]
    assert [member["profileId"] for member in members] == [keen]
    assert idle not in {member["profileId"] for member in members}

    local_stack.advance_clock(timedelta(days=8))  # both events leave the 7-day window
    assert local_stack.wait_idle()
    assert marketing.ok("GET", f"{path}/count")["count"] == 0
    assert marketing.ok("GET", f"{path}/members")["items"] == []
