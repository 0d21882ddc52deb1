"""The links in a sent email, through the template's routes (no login) to the tracking handler on moto:
open pixel, click redirect, unsubscribe page and RFC 8058 one-click unsubscribe."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from email_support import (
    events_named,
    person,
    raw_event,
    request,
    run_sender,
    send_record,
    ses_messages,
    ses_send_count,
    template,
    unpaced,
)

from leadstream.events import TrackedEvent
from leadstream_local.inprocess import Call
from leadstream_local.template import StackTemplate
from mail.link_tokens import LinkClaims, LinkKeys, LinkKind, LinkSigner, link_keys, sign
from mail.sends import SendRequest
from mail.store.suppression import get_suppression
from mail.suppression import SuppressionReason

pytestmark = pytest.mark.usefixtures("unpaced")
__all__ = ["unpaced"]
Stored = Callable[[], list[TrackedEvent]]
BROWSER = (
    "user-agent",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
)


def _path(url: str) -> str:
    return "/email/" + url.split("/email/", 1)[1]


def _links(message_index: int = 0) -> dict[str, str]:
    """The tracking paths in a sent email: open, click (the first), unsubscribe."""
    message = ses_messages()[message_index]
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    found = {kind: html.split(f"/email/{kind}/", 1)[1].split('"', 1)[0] for kind in ("open", "click")}
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    return {
        "open": f"/email/open/{found['open']}",
        "click": f"/email/click/{found['click']}",
        "unsubscribe": _path(unsubscribe),
    }


def _age(message_id: str, minutes: int = 30) -> None:
    """Make the email look sent a while ago, as it is when people (not scanners) follow its links."""
    import boto3

    from leadstream import keys
    from leadstream.profiles import iso_utc
    from leadstream.settings import get_settings
    from leadstream.store.dynamo import serialize

    boto3.client("dynamodb").update_item(
        TableName=get_settings().main_table,
        Key=serialize(keys.send_key(message_id)),
        UpdateExpression="SET sentAt = :at",
        ExpressionAttributeValues=serialize({":at": iso_utc(datetime.now(UTC) - timedelta(minutes=minutes))}),
    )


@pytest.fixture
def sent(aws: StackTemplate) -> SendRequest:
    send = request(person("ada@example.com"), template())
    run_sender(raw_event([send]))
    return send


def test_the_open_pixel_records_an_open(call_api: Call, sent: SendRequest, stored_events: Stored) -> None:
    _age(sent.message_id)
    reply = call_api("GET", _links()["open"], headers=[BROWSER])
    assert reply.status == 200
    assert reply.headers["content-type"] == "image/gif"
    assert reply.body.startswith(b"GIF89a")
    assert "no-store" in reply.headers["cache-control"]
    (event,) = events_named(stored_events(), "Email Opened")
    assert event.source_id == "email"
    assert event.email == "ada@example.com"
    assert event.properties["email_id"] == sent.message_id
    assert event.properties["scanner"] is False
    assert event.properties["template_id"] == sent.template_id


def test_a_click_redirects_to_the_original_url_and_is_recorded(
    call_api: Call, sent: SendRequest, stored_events: Stored
) -> None:
    _age(sent.message_id)
    reply = call_api("GET", _links()["click"], headers=[BROWSER])
    assert reply.status == 302
    assert reply.headers["location"] == "https://example.com/pricing"
    assert reply.headers["referrer-policy"] == "no-referrer"
    (event,) = events_named(stored_events(), "Email Link Clicked")
    assert event.properties["link_url"] == "https://example.com/pricing"
    assert event.properties["link_id"] == 0
    assert event.properties["scanner"] is False
    assert event.properties["campaign_id"] == "cmp-1"


def test_a_click_right_after_sending_is_a_scanner(
    call_api: Call, sent: SendRequest, stored_events: Stored
) -> None:
    """A security gateway follows every link as the email arrives: recorded, flagged, still redirected."""
    reply = call_api("GET", _links()["click"], headers=[BROWSER])
    assert reply.status == 302
    (event,) = events_named(stored_events(), "Email Link Clicked")
    assert event.properties["scanner"] is True
    assert event.properties["scanner_reason"] == "within 10 s of sending"


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Barracuda Sentinel)",
        "python-requests/2.32",
        "Microsoft Office Existence Discovery",
        "",
    ],
)
def test_clicks_by_scanner_agents_are_flagged(
    call_api: Call, sent: SendRequest, stored_events: Stored, agent: str
) -> None:
    _age(sent.message_id)
    call_api("GET", _links()["click"], headers=[("user-agent", agent)] if agent else [])
    (event,) = events_named(stored_events(), "Email Link Clicked")
    assert event.properties["scanner"] is True


def test_clicks_from_listed_scanner_ranges_are_flagged(
    call_api: Call, sent: SendRequest, stored_events: Stored, monkeypatch: pytest.MonkeyPatch
) -> None:
    _age(sent.message_id)
    monkeypatch.setenv("EMAIL_SCANNER_IP_RANGES", "10.0.0.0/8, 127.0.0.0/8")
    call_api("GET", _links()["click"], headers=[BROWSER])
    (event,) = events_named(stored_events(), "Email Link Clicked")
    assert event.properties["scanner_reason"] == "scanner address range"


@pytest.mark.parametrize("change", ["flip", "truncate", "other_key", "other_kind", "forged_url"])
def test_a_tampered_click_is_refused_and_redirects_nowhere(
    call_api: Call, sent: SendRequest, stored_events: Stored, change: str
) -> None:
    token = _links()["click"].rsplit("/", 1)[1]
    if change == "flip":
        token = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    elif change == "truncate":
        token = token[:-3]
    elif change == "other_key":
        claims = LinkClaims(LinkKind.CLICK, sent.message_id, 0, "https://evil.example/")
        token = sign(claims, LinkKeys.parse("an-attacker-key-0123456789abcdef"))
    elif change == "other_kind":
        token = _links()["open"].rsplit("/", 1)[1]
    else:
        mac = token.split(".")[1]
        other = sign(LinkClaims(LinkKind.CLICK, sent.message_id, 0, "https://evil.example/"), link_keys())
        token = f"{other.split('.')[0]}.{mac}"
    reply = call_api("GET", f"/email/click/{token}", headers=[BROWSER])
    assert reply.status == 400
    assert reply.headers["content-type"] == "application/problem+json"
    assert "location" not in reply.headers
    assert "not valid" in reply.json()["detail"]
    assert stored_events() == []


def test_a_tampered_open_or_unsubscribe_is_refused(call_api: Call, sent: SendRequest) -> None:
    links = _links()
    assert call_api("GET", links["open"][:-2] + "xx").status == 400
    reply = call_api("POST", links["unsubscribe"][:-2] + "xx", body=b"List-Unsubscribe=One-Click")
    assert reply.status == 400
    assert get_suppression("ada@example.com") is None


def test_the_unsubscribe_link_shows_a_page_and_changes_nothing(call_api: Call, sent: SendRequest) -> None:
    reply = call_api("GET", _links()["unsubscribe"], headers=[BROWSER])
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    page = reply.body.decode()
    assert '<form method="post">' in page
    assert "a•••@example.com" in page
    assert "ada@example.com" not in page
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
    assert get_suppression("ada@example.com") is None


def test_one_click_unsubscribe_suppresses_and_records_once(
    call_api: Call, sent: SendRequest, stored_events: Stored
) -> None:
    """RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click` to the List-Unsubscribe URL."""
    url = _links()["unsubscribe"]
    form = ("content-type", "application/x-www-form-urlencoded")
    for _ in range(2):
        reply = call_api("POST", url, headers=[form], body=b"List-Unsubscribe=One-Click")
        assert reply.status == 200
    entry = get_suppression("ada@example.com")
    assert entry is not None
    assert SuppressionReason.UNSUBSCRIBED in entry.reasons
    assert entry.detail == "one-click"
    (event,) = events_named(stored_events(), "Unsubscribed")
    assert event.properties["email_id"] == sent.message_id
    assert event.properties["method"] == "one-click"

    run_sender(
        raw_event([SendRequest.model_validate({**sent.model_dump(by_alias=True), "messageId": "next"})])
    )
    assert ses_send_count() == 1
    assert send_record("next").reason == "suppressed:unsubscribed"


def test_the_button_on_the_page_unsubscribes_too(call_api: Call, sent: SendRequest) -> None:
    reply = call_api(
        "POST",
        _links()["unsubscribe"],
        headers=[
            ("accept", "text/html,application/xhtml+xml"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        body=b"List-Unsubscribe=One-Click",
    )
    assert reply.status == 200
    assert "You are unsubscribed" in reply.body.decode()
    assert get_suppression("ada@example.com") is not None


def test_links_of_a_preview_redirect_but_record_and_unsubscribe_nothing(
    call_api: Call, aws: StackTemplate, stored_events: Stored
) -> None:
    signer = LinkSigner("http://127.0.0.1:8787", link_keys())
    click = _path(signer.click_url("preview-1", 0, "https://example.com/x"))
    assert call_api("GET", click).headers["location"] == "https://example.com/x"
    assert call_api("GET", _path(signer.open_url("preview-1"))).status == 200
    page = call_api("GET", _path(signer.unsubscribe_url("preview-1"))).body.decode()
    assert "Nothing to unsubscribe" in page
    assert call_api("POST", _path(signer.unsubscribe_url("preview-1"))).body == b"Not found."
    assert stored_events() == []
