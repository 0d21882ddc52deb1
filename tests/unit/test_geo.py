"""Geolocation at ingest (tracking.geo) on known addresses of the packaged database, truncation of the
address, and what happens to what a client sent."""

from __future__ import annotations

from typing import Any

import pytest

from tracking import geo


@pytest.mark.parametrize(
    ("address", "truncated"),
    [
        ("81.2.69.160", "81.2.69.0"),
        (" 81.2.69.160 ", "81.2.69.0"),
        ("2001:4860:4860::8888", "2001:4860:4860::"),
        ("2a02:cf40:1234:5678:9abc::1", "2a02:cf40:1234::"),
        ("::ffff:81.2.69.160", "81.2.69.0"),
        ("not an address", None),
        ("999.1.1.1", None),
        ("", None),
    ],
)
def test_an_address_is_truncated_as_analytics_tools_do(address: str, truncated: str | None) -> None:
    assert geo.truncate(address) == truncated


@pytest.mark.parametrize(
    ("address", "country", "zone"),
    [
        ("81.2.69.160", "GB", "Europe/London"),
        ("89.160.20.112", "SE", "Europe/Stockholm"),
        ("175.16.199.0", "CN", "Asia/Shanghai"),
        ("2001:4860:4860::8888", "US", "America/Los_Angeles"),
    ],
)
def test_known_addresses_give_country_and_time_zone(address: str, country: str, zone: str) -> None:
    found = geo.locate(address)
    assert found is not None
    assert (found["country"], found["timeZone"]) == (country, zone)


def test_a_city_and_region_come_with_it_where_known() -> None:
    assert geo.locate("89.160.20.112") == {
        "country": "SE",
        "region": "AB",
        "city": "Stockholm",
        "timeZone": "Europe/Stockholm",
    }


@pytest.mark.parametrize("address", ["10.1.2.3", "127.0.0.1", "169.254.169.254", "::1", "fd00::1", "junk"])
def test_private_and_invalid_addresses_have_no_location(address: str) -> None:
    assert geo.locate(address) is None


def test_the_events_own_address_wins_and_is_stored_truncated() -> None:
    raw: dict[str, Any] = {"type": "page", "context": {"ip": "81.2.69.160", "locale": "en-GB"}}
    geo.enrich(raw, "89.160.20.112")
    assert raw["context"]["ip"] == "81.2.69.0"
    assert raw["context"]["geo"]["country"] == "GB"
    assert raw["context"]["locale"] == "en-GB"


def test_without_one_the_request_address_is_looked_up_and_not_stored() -> None:
    raw: dict[str, Any] = {"type": "page"}
    geo.enrich(raw, "89.160.20.112")
    assert raw["context"] == {"geo": geo.locate("89.160.20.112")}
    assert "89.160.20" not in repr(raw)


def test_an_event_that_cannot_be_located_is_stored_as_sent() -> None:
    for context in ({"ip": "<script>", "geo": {"country": "XX"}}, {"ip": 12345}, {}):
        raw: dict[str, Any] = {"context": dict(context)}
        geo.enrich(raw, "127.0.0.1")
        assert raw["context"] == context
    bare: dict[str, Any] = {"type": "page"}
    geo.enrich(bare, None)
    assert bare == {"type": "page"}


def test_our_location_replaces_one_a_client_claimed() -> None:
    raw: dict[str, Any] = {"context": {"geo": {"country": "XX"}}}
    geo.enrich(raw, "89.160.20.112")
    assert raw["context"]["geo"]["country"] == "SE"


@pytest.mark.parametrize("raw", [None, 7, "text", [1, 2], {"context": "not an object"}])
def test_what_is_not_an_event_is_left_for_validation(raw: Any) -> None:
    before = repr(raw)
    geo.enrich(raw, "81.2.69.160")
    assert repr(raw) == before


def test_a_batch_sharing_one_context_object_is_not_changed_through_another_item() -> None:
    shared = {"ip": "81.2.69.160"}
    first, second = {"context": shared}, {"context": shared}
    geo.enrich(first, None)
    geo.enrich(second, None)
    assert shared == {"ip": "81.2.69.160"}
    assert first["context"]["ip"] == second["context"]["ip"] == "81.2.69.0"
