from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from leadstream.events import SegmentMessage, TrackedEvent, corrected_timestamp

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_clock_skew_is_corrected_from_sent_at() -> None:
    # The device clock runs two hours ahead; the event happened 5 s before it was sent.
    device = NOW + timedelta(hours=2)
    fixed = corrected_timestamp(device - timedelta(seconds=5), device, NOW)
    assert fixed == NOW - timedelta(seconds=5)


def test_future_timestamp_without_sent_at_is_clamped() -> None:
    assert corrected_timestamp(NOW + timedelta(days=1), None, NOW) == NOW


@pytest.mark.parametrize("junk", ["null", "undefined", "Anonymous", "0", "", "[object Object]", 0])
def test_junk_ids_are_refused(junk: object) -> None:
    with pytest.raises(ValidationError, match=r"usable id|userId or an anonymousId"):
        SegmentMessage.model_validate({"type": "identify", "userId": junk})


def test_numeric_user_id_becomes_a_string() -> None:
    msg = SegmentMessage.model_validate({"type": "identify", "userId": 42})
    assert msg.user_id == "42"


def test_round_trip_through_the_stored_item() -> None:
    msg = SegmentMessage.model_validate(
        {
            "type": "track",
            "event": "Signed Up",
            "anonymousId": "a1",
            "messageId": "m1",
            "properties": {"plan": "pro", "price": 9.5},
            "timestamp": "2026-11-23T11:59:00",
        }
    )
    event = msg.to_tracked("src", NOW)
    assert event.timestamp == datetime(2026, 11, 23, 11, 59, tzinfo=UTC)
    item = event.to_item({"pk": "p", "sk": "s"}, ttl_epoch=1)
    assert TrackedEvent.from_item(item) == event
    assert item["anonymousId"] == "a1"
    assert "userId" not in item


def test_track_needs_an_event_name() -> None:
    with pytest.raises(ValidationError, match="event name"):
        SegmentMessage.model_validate({"type": "track", "anonymousId": "a1"})
