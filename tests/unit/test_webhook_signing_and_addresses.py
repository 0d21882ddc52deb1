"""Standard Webhooks signatures equal the reference library's, and the address guard refuses every
address that is not public."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from integrations import addresses, signing
from integrations.webhooks import BACKOFF_SECONDS, RETRY_WINDOW, backoff


@given(body=st.text(max_size=300), message_id=st.from_regex(r"evt_[0-9a-f]{32}", fullmatch=True))
def test_our_signature_is_the_librarys(body: str, message_id: str) -> None:
    secret = signing.new_secret()
    timestamp = 1_796_458_000
    ours = signing.sign(secret, message_id, timestamp, body)
    theirs = Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, UTC), body)
    assert ours == theirs


def test_a_receiver_verifies_our_headers_and_refuses_a_changed_body() -> None:
    secret = signing.new_secret()
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers(secret, "evt_" + "0" * 32, now, '{"a":1}')
    assert Webhook(secret).verify('{"a":1}', headers) == {"a": 1}
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(secret).verify('{"a":2}', headers)


def test_secrets_are_random_and_in_the_specifications_form() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(signing._key(first)) == signing.SECRET_BYTES


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1", "172.16.5.4", "192.168.0.1", "100.64.0.1", "127.0.0.1", "127.8.8.8", "0.0.0.0",
        "169.254.169.254", "169.254.170.2", "224.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1",
        "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1", "2001:db8::1", "::ffff:10.0.0.1",
        "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:a00:1::1", "2002:7f00:1::1",
    ],
)  # fmt: skip
def test_addresses_that_are_not_public_are_refused(address: str) -> None:
    with pytest.raises(addresses.AddressRefused):
        addresses.check_address(ipaddress.ip_address(address), allow_loopback=False)


@pytest.mark.parametrize("address", ["8.8.8.8", "81.2.69.160", "2001:4860:4860::8888"])
def test_public_addresses_pass(address: str) -> None:
    addresses.check_address(ipaddress.ip_address(address), allow_loopback=False)


def test_loopback_only_where_allowed_and_never_link_local() -> None:
    addresses.check_address(ipaddress.ip_address("127.0.0.1"), allow_loopback=True)
    addresses.check_address(ipaddress.ip_address("::1"), allow_loopback=True)
    with pytest.raises(addresses.AddressRefused, match="link-local"):
        addresses.check_address(ipaddress.ip_address("169.254.169.254"), allow_loopback=True)
    with pytest.raises(addresses.AddressRefused, match="private"):
        addresses.check_address(ipaddress.ip_address("10.0.0.1"), allow_loopback=True)


def test_localhost_resolves_to_loopback_and_is_refused_in_a_deployment() -> None:
    target = addresses.parse("https://localhost:8443/x?y=1", allow_loopback=False)
    assert (target.host, target.port, target.path) == ("localhost", 8443, "/x?y=1")
    with pytest.raises(addresses.AddressRefused, match="loopback"):
        addresses.resolve(target, allow_loopback=False)
    assert all(ip.is_loopback for ip in addresses.resolve(target, allow_loopback=True))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",  # plain http: refused where loopback is not allowed
        "https://exa mple.com/",
        "https://example.com/\x00",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://a@b.example.com/",
        "https://[::1/",
    ],
)
def test_urls_that_cannot_be_used_are_refused(url: str) -> None:
    with pytest.raises(addresses.AddressRefused):
        addresses.parse(url, allow_loopback=False)


def test_the_backoff_schedule_covers_at_least_a_day() -> None:
    assert [backoff(n) for n in range(1, 10)] == [*BACKOFF_SECONDS, BACKOFF_SECONDS[-1], BACKOFF_SECONDS[-1]]
    waited, attempts = 0, 1
    while waited < RETRY_WINDOW.total_seconds():
        waited += backoff(attempts)
        attempts += 1
    assert attempts == 8  # the 8th attempt is the first past the window: the last before the dead letter
    assert max(BACKOFF_SECONDS) <= 12 * 3600  # SQS's limit for one message's visibility timeout
