"""The real Segment and RudderStack SDKs deliver to the local stack; events land on the right profile."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from leadstream import keys
from leadstream.events import TrackedEvent
from leadstream.profiles import Profile
from leadstream.settings import get_settings
from leadstream.store.dynamo import get_item
from tracking.store.sources import source_by_write_key

pytestmark = pytest.mark.e2e


def _client(sdk: str, stack: Any, errors: list[Any]) -> Any:
    """The SDK's own client class, pointed at the local stack. RudderStack's gzips every batch by default,
    so the gzip path is exercised for real."""
    import importlib

    client_class = importlib.import_module(f"{sdk}.analytics").Client
    return client_class(
        write_key=stack.write_key,
        host=stack.url,
        on_error=lambda e, batch: errors.append(e),
        max_retries=1,
        upload_interval=0.05,
    )


def _stored_event(stack: Any, message_id: str) -> TrackedEvent | None:
    source = source_by_write_key(stack.write_key)
    assert source is not None
    item = get_item(
        get_settings().events_table, keys.event_key(source.source_id, message_id), consistent=True
    )
    return TrackedEvent.from_item(item) if item else None


def _profile_of(kind: str, value: str) -> Profile:
    table = get_settings().main_table
    identity = get_item(table, keys.identity_key(kind, value), consistent=True)
    assert identity is not None, f"no identity {kind}:{value}"
    item = get_item(table, keys.profile_key(identity["profileId"]), consistent=True)
    assert item is not None
    return Profile.model_validate(item)


@pytest.mark.parametrize("sdk", ["segment", "rudderstack"])
def test_sdk_events_are_stored_and_merged_onto_one_profile(local_stack: Any, sdk: str) -> None:
    errors: list[Any] = []
    client = _client(sdk, local_stack, errors)
    run = uuid.uuid4().hex[:8]
    anonymous_id, user_id = f"anon-{run}", f"user-{run}"
    ids = {name: f"{name}-{run}" for name in ("page", "track", "identify")}

    client.page(
        anonymous_id=anonymous_id,
        name="Pricing",
        properties={"url": "https://example.com/pricing"},
        context={"campaign": {"source": "newsletter", "medium": "email", "name": "autumn"}},
        message_id=ids["page"],
    )
    client.track(
        anonymous_id=anonymous_id,
        event="Viewed Demo Video",
        properties={"seconds": 42},
        message_id=ids["track"],
    )
    client.identify(
        user_id=user_id,
        anonymous_id=anonymous_id,
        traits={"email": f"ada-{run}@example.com", "firstName": "Ada"},
        message_id=ids["identify"],
    )
    client.flush()
    client.join()
    assert errors == []
    local_stack.wait_idle()

    stored = {name: _stored_event(local_stack, message_id) for name, message_id in ids.items()}
    assert all(stored.values()), stored
    assert stored["track"] is not None
    assert stored["track"].properties == {"seconds": 42}
    assert stored["page"] is not None
    assert stored["page"].name == "Pricing"

    profile = _profile_of("user", user_id)
    assert _profile_of("anon", anonymous_id).profile_id == profile.profile_id
    assert _profile_of("email", f"ada-{run}@example.com").profile_id == profile.profile_id
    assert profile.traits["firstName"] == "Ada"
    assert profile.first_touch is not None
    assert profile.first_touch.source == "newsletter"


def test_an_anonymous_visitor_is_merged_into_a_known_person(local_stack: Any) -> None:
    errors: list[Any] = []
    client = _client("segment", local_stack, errors)
    run = uuid.uuid4().hex[:8]
    user_id, laptop, phone = f"user-{run}", f"laptop-{run}", f"phone-{run}"

    client.identify(user_id=user_id, anonymous_id=laptop, traits={"plan": "trial"})
    client.flush()
    local_stack.wait_idle()
    client.page(anonymous_id=phone, name="Home")  # another device, not yet known
    client.flush()
    local_stack.wait_idle()
    anonymous = _profile_of("anon", phone)
    assert not anonymous.is_known

    client.identify(user_id=user_id, anonymous_id=phone, traits={"plan": "pro"})
    client.flush()
    client.join()
    assert errors == []
    local_stack.wait_idle()

    known = _profile_of("user", user_id)
    assert _profile_of("anon", phone).profile_id == known.profile_id
    assert known.traits["plan"] == "pro"
    absorbed = get_item(get_settings().main_table, keys.profile_key(anonymous.profile_id), consistent=True)
    assert absorbed is not None
    assert absorbed["mergedInto"] == known.profile_id
    merge = get_item(get_settings().main_table, keys.merge_key(known.profile_id, anonymous.profile_id))
    assert merge is not None
