"""External identities and geolocation on moto: tracked over HTTP, resolved by the scoring handler, shown in
the 360° view; merges by external id follow the rules of email and user id; the raw IP is stored nowhere;
a journey's sending window uses the located time zone."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
from scoring_support import T0, Stream, tracked

from leadstream.profiles import IdentityRef, Location, Profile
from leadstream.settings import get_settings
from leadstream.store import profiles as profile_store
from leadstream_local.inprocess import Call
from scoring.identity import new_profile_id

BASIC_AUTH = "Basic " + base64.b64encode(b"test-write-key-0001:").decode()


@pytest.fixture
def stream(aws: Any) -> Stream:
    from scoring.store.config import scoring_config

    scoring_config()
    return Stream(aws)


def person(kind: str, value: str) -> Profile:
    found = profile_store.profile_of(IdentityRef(kind=kind, value=value))  # type: ignore[arg-type]
    assert found is not None
    return found


def test_an_external_id_joins_visitors_into_one_person_and_finds_them(stream: Stream) -> None:
    stream.deliver([tracked("identify", anonymousId="a1", traits={"salesforceId": "0031x00000ABCDE"}, at=T0)])
    stream.deliver([
        tracked("page", anonymousId="a2", at=T0 + timedelta(minutes=1),
                context={"externalIds": [{"id": "0031x00000ABCDE", "type": "salesforce"}]}),
    ])  # fmt: skip
    # The same account seen on another device: one person, found by the external id.
    found = person("ext", "salesforce:0031x00000ABCDE")
    assert {str(ref) for ref in found.identities} == {"anon:a1", "anon:a2", "ext:salesforce:0031x00000ABCDE"}
    assert found.is_known


def test_an_anonymous_profile_is_absorbed_when_it_turns_out_to_hold_a_known_external_id(
    stream: Stream,
) -> None:
    stream.deliver([tracked("identify", userId="u-1", traits={"hubspotId": "42"}, at=T0)])
    stream.deliver([tracked("page", anonymousId="b1", at=T0)])
    stream.deliver([tracked("identify", anonymousId="b1", traits={"hubspotId": "42"}, at=T0 + timedelta(1))])
    known = person("user", "u-1")
    assert person("anon", "b1").profile_id == known.profile_id
    absorbed = profile_store.get_profile(new_profile_id(IdentityRef(kind="anon", value="b1")))
    assert absorbed is not None
    assert absorbed.merged_into == known.profile_id


def test_two_known_people_are_never_merged_by_an_external_id(stream: Stream) -> None:
    stream.deliver([
        tracked("identify", userId="u-1", traits={"email": "one@x.io", "linkedin": "in/ada"}, at=T0),
        tracked("identify", userId="u-2", traits={"email": "two@x.io"}, at=T0),
    ])  # fmt: skip
    result = stream.deliver(
        [tracked("identify", userId="u-2", traits={"linkedin": "linkedin.com/in/Ada"}, at=T0 + timedelta(1))]
    )
    assert result == {"batchItemFailures": []}
    one, two = person("user", "u-1"), person("user", "u-2")
    assert one.profile_id != two.profile_id
    assert person("ext", "linkedin:ada").profile_id == one.profile_id  # stays with its owner
    assert one.merged_into is None
    assert two.merged_into is None


def test_the_360_view_shows_external_ids_and_location(
    stream: Stream, call_api: Call, token_for: Callable[..., str]
) -> None:
    stream.deliver([
        tracked("identify", userId="u-9", traits={"email": "ada@x.io", "salesforceId": "0031x00000ABCDE"},
                context={"ip": "89.160.20.0", "geo": {"country": "SE", "city": "Stockholm",
                                                     "timeZone": "Europe/Stockholm"}}, at=T0),
    ])  # fmt: skip
    profile = person("user", "u-9")
    reply = call_api("GET", f"/marketing/profiles/{profile.profile_id}", token=token_for("marketing"))
    assert reply.status == 200
    view = reply.json()
    assert view["externalIds"] == [{"type": "salesforce", "id": "0031x00000ABCDE"}]
    assert view["location"] == {"country": "SE", "city": "Stockholm", "timeZone": "Europe/Stockholm"}


def test_the_newest_event_with_a_location_wins(stream: Stream) -> None:
    def at(minutes: int, country: str, zone: str) -> Any:
        geo = {"country": country, "timeZone": zone}
        return tracked("page", anonymousId="c1", at=T0 + timedelta(minutes=minutes), context={"geo": geo})

    stream.deliver([at(10, "SE", "Europe/Stockholm")])
    stream.deliver([at(5, "GB", "Europe/London")])  # older, arriving later: does not win
    located = person("anon", "c1").location
    assert located is not None
    assert (located.country, located.time_zone) == ("SE", "Europe/Stockholm")
    stream.deliver([at(20, "US", "America/New_York")])
    newest = person("anon", "c1").location
    assert newest is not None
    assert newest.country == "US"


def test_ingest_locates_the_visitor_and_never_stores_the_raw_address(
    source: Any, call_api: Call, stored_events: Callable[[], list[Any]]
) -> None:
    body = {
        "type": "track",
        "anonymousId": "d1",
        "event": "Viewed",
        "context": {"ip": "89.160.20.112"},
    }
    reply = call_api(
        "POST",
        "/v1/track",
        headers=[("authorization", BASIC_AUTH), ("content-type", "application/json")],
        body=body,
    )
    assert reply.status == 200, reply.body
    [event] = stored_events()
    assert event.context["ip"] == "89.160.20.0"
    assert event.context["geo"] == {
        "country": "SE",
        "region": "AB",
        "city": "Stockholm",
        "timeZone": "Europe/Stockholm",
    }
    items = boto3.client("dynamodb").scan(TableName=get_settings().events_table)["Items"]
    assert "89.160.20.112" not in json.dumps(items)


def test_a_sending_window_uses_the_located_zone_unless_the_person_names_one() -> None:
    from journeys.models import SendingWindow
    from journeys.windows import person_zone

    window = SendingWindow.model_validate(
        {"days": ["mon"], "start": "09:00", "end": "17:00", "timezone": "UTC"}
    )
    assert str(person_zone(window, {}, "Asia/Shanghai")) == "Asia/Shanghai"
    assert str(person_zone(window, {"timezone": "Europe/Paris"}, "Asia/Shanghai")) == "Europe/Paris"
    assert str(person_zone(window, {}, "Not/AZone")) == "UTC"
    assert str(person_zone(window, {}, None)) == "UTC"
    assert Location(stamp="x", timeZone="Asia/Shanghai").time_zone == "Asia/Shanghai"
