"""The email sender on moto: one email per recipient whatever the queue redelivers, never to a suppressed
address, never over the weekly cap; the SES send count is the proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from email_support import (
    WELCOME,
    enqueue,
    person,
    raw_event,
    receive,
    request,
    run_sender,
    send_record,
    ses_messages,
    ses_send_count,
    template,
    unpaced,
)

from leadstream_local.template import StackTemplate
from mail.link_tokens import LinkKind, link_keys, verify
from mail.sends import SendStatus
from mail.suppression import SuppressionReason
from mail.template_models import TemplateContent

pytestmark = pytest.mark.usefixtures("unpaced")
__all__ = ["unpaced"]


def test_a_send_request_becomes_one_personalized_tracked_email(aws: StackTemplate) -> None:
    ada = person("ada@example.com", traits={"firstName": "Ada"})
    tpl = template()
    send = request(ada, tpl)
    enqueue(aws, [send])

    assert run_sender(receive(aws)) == {"batchItemFailures": []}

    (message,) = ses_messages()
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Welcome, Ada"
    assert message["From"] == "Leadstream <news@example.com>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Leadstream-Message-Id"] == send.message_id
    html = message.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "Hi Ada!" in content
    assert "/email/open/" in content
    assert "Leadstream Inc." in content
    click = content.split("/email/click/", 1)[1].split('"', 1)[0]
    assert verify(click, LinkKind.CLICK, link_keys()).url == "https://example.com/pricing"
    record = send_record(send.message_id)
    assert record.status is SendStatus.SENT
    assert record.ses_message_id
    assert record.sent_at
    assert record.email == "ada@example.com"
    assert record.subject == "Welcome, Ada"
    assert record.campaign_id == "cmp-1"


def test_a_redelivered_batch_sends_nobody_a_second_copy(aws: StackTemplate) -> None:
    tpl = template()
    sends = [request(person(f"p{n}@example.com"), tpl) for n in range(4)]
    event = raw_event(sends)

    run_sender(event)
    assert ses_send_count() == 4
    for _ in range(3):  # SQS redelivers the whole batch (a timeout, a lost delete)
        assert run_sender(event) == {"batchItemFailures": []}
    assert ses_send_count() == 4
    assert {send_record(send.message_id).status for send in sends} == {SendStatus.SENT}


def test_the_same_message_twice_in_one_batch_is_sent_once(aws: StackTemplate) -> None:
    send = request(person(), template())
    run_sender(raw_event([send, send]))
    assert ses_send_count() == 1


def test_a_live_claim_is_retried_later_not_sent_again(aws: StackTemplate) -> None:
    """Another delivery holds the claim (it is sending right now): this one must wait, not send."""
    from mail.sends import SendRecord
    from mail.store.sends import claim

    send = request(person(), template())
    now = datetime.now(UTC)
    claim(
        SendRecord.for_request(send, SendStatus.SENDING, now, claimToken="other", claimedAt=now),
        weekly_cap=3,
    )
    response = run_sender(raw_event([send]))
    assert response == {"batchItemFailures": [{"itemIdentifier": "sqs-0"}]}
    assert ses_send_count() == 0


def test_a_claim_confirmed_by_the_ses_send_event_is_not_sent_again(aws: StackTemplate) -> None:
    """The sender crashed after SES accepted the email; SES's Send event recorded it as sent."""
    from mail.sends import SendRecord
    from mail.store.sends import claim, confirm_sent

    send = request(person(), template())
    old = datetime.now(UTC) - timedelta(hours=1)
    claim(SendRecord.for_request(send, SendStatus.SENDING, old, claimToken="x", claimedAt=old), weekly_cap=3)
    assert confirm_sent(send.message_id, ses_message_id="ses-1", at=old)

    assert run_sender(raw_event([send])) == {"batchItemFailures": []}
    assert ses_send_count() == 0


def test_a_stale_claim_without_a_send_event_is_taken_over_and_sent_once(aws: StackTemplate) -> None:
    """The sender died before SES accepted it (no Send event within the lease): send it now, once, and do
    not count it against the weekly cap again."""
    from mail.sends import SendRecord
    from mail.store.sends import claim, emails_this_week

    ada = person()
    send = request(ada, template())
    old = datetime.now(UTC) - timedelta(hours=1)
    stale = SendRecord.for_request(
        send, SendStatus.SENDING, old, claimToken="dead", claimedAt=old, attempts=1
    )
    claim(stale, weekly_cap=3)
    counted = emails_this_week(ada.profile_id, old)

    run_sender(raw_event([send]))
    run_sender(raw_event([send]))
    assert ses_send_count() == 1
    record = send_record(send.message_id)
    assert record.status is SendStatus.SENT
    assert record.attempts == 2
    assert record.email == "ada@example.com"
    assert emails_this_week(ada.profile_id, old) == counted


@pytest.mark.parametrize("reason", list(SuppressionReason))
def test_no_email_to_a_suppressed_address(aws: StackTemplate, reason: SuppressionReason) -> None:
    from mail.store.suppression import suppress

    ada = person("Ada@Example.com")
    suppress("ada@example.com", reason, datetime.now(UTC))
    send = request(ada, template())

    assert run_sender(raw_event([send])) == {"batchItemFailures": []}
    assert ses_send_count() == 0
    record = send_record(send.message_id)
    assert record.status is SendStatus.SKIPPED
    assert record.reason == f"suppressed:{reason.value}"


def test_an_explicit_address_is_checked_too(aws: StackTemplate) -> None:
    from mail.store.suppression import suppress

    suppress("work@example.com", SuppressionReason.BOUNCED, datetime.now(UTC))
    run_sender(raw_event([request(person("home@example.com"), template(), email="WORK@example.com")]))
    assert ses_send_count() == 0


def test_the_weekly_cap_stops_the_fourth_email(aws: StackTemplate) -> None:
    from mail.store.sends import emails_this_week

    ada = person()
    tpl = template()
    sends = [request(ada, tpl) for _ in range(5)]  # the template's cap is 3 a week
    run_sender(raw_event(sends))

    assert ses_send_count() == 3
    statuses = [send_record(send.message_id) for send in sends]
    assert [record.status for record in statuses].count(SendStatus.SENT) == 3
    assert {record.reason for record in statuses if record.status is SendStatus.SKIPPED} == {"frequency_cap"}
    assert emails_this_week(ada.profile_id, datetime.now(UTC)) == 3
    run_sender(raw_event(sends))  # redelivered: nothing more counted, nothing sent
    assert emails_this_week(ada.profile_id, datetime.now(UTC)) == 3
    assert ses_send_count() == 3


def test_the_cap_is_per_person(aws: StackTemplate) -> None:
    tpl = template()
    run_sender(raw_event([request(person(f"p{n}@example.com"), tpl) for n in range(5)]))
    assert ses_send_count() == 5


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ({"email_address": None}, "no_email"),
    ],
)
def test_people_without_an_address_are_skipped(
    aws: StackTemplate, setup: dict[str, Any], reason: str
) -> None:
    send = request(person(**setup), template())
    run_sender(raw_event([send]))
    assert send_record(send.message_id).reason == reason
    assert ses_send_count() == 0


def test_an_unknown_profile_is_skipped(aws: StackTemplate) -> None:
    from leadstream.profiles import Profile

    send = request(Profile(profile_id="nobody"), template())
    run_sender(raw_event([send]))
    assert send_record(send.message_id).reason == "no_profile"


def test_a_template_that_fails_for_this_person_fails_only_their_message(aws: StackTemplate) -> None:
    tpl = template(TemplateContent(name="age", subject="In {{ 1 + traits.age }} years", html="<p>x</p>"))
    good = request(person("a@example.com", traits={"age": 30}), tpl)
    bad = request(person("b@example.com", traits={"age": "thirty"}), tpl)
    assert run_sender(raw_event([good, bad])) == {"batchItemFailures": []}
    assert ses_send_count() == 1
    failed = send_record(bad.message_id)
    assert failed.status is SendStatus.FAILED
    assert failed.reason.startswith("render:")


def test_an_unreadable_message_fails_alone(aws: StackTemplate) -> None:
    good = request(person(), template())
    response = run_sender(raw_event(["{not json", good]))
    assert response == {"batchItemFailures": [{"itemIdentifier": "sqs-0"}]}
    assert ses_send_count() == 1


def test_ses_refusing_the_sender_fails_the_message_for_good(
    aws: StackTemplate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unverified From address: SES rejects the message (MessageRejected); retrying cannot help."""
    monkeypatch.setenv("EMAIL_FROM_ADDRESS", "someone@unverified.example")
    send = request(person(), template())
    assert run_sender(raw_event([send])) == {"batchItemFailures": []}
    record = send_record(send.message_id)
    assert record.status is SendStatus.FAILED
    assert "MessageRejected" in record.reason


def test_a_changed_template_does_not_change_a_queued_email(aws: StackTemplate) -> None:
    from leadstream.api import check_if_match
    from mail.templates import Templates, dynamo_store

    tpl = template()
    send = request(person(), tpl)  # names version 1
    changed = TemplateContent(**{**WELCOME.model_dump(), "subject": "Changed"})
    templates = Templates(store=dynamo_store())
    templates.update(tpl.template_id, changed, check_version=partial(check_if_match, '"1"'), user="t")
    run_sender(raw_event([send]))
    assert ses_messages()[0]["Subject"] == "Welcome, Ada"


def test_a_template_past_the_render_budget_fails_only_that_message(aws: StackTemplate) -> None:
    html = "<p>{% for a in traits.plans %}{% for b in traits.plans %}.{% endfor %}{% endfor %}</p>"
    tpl = template(TemplateContent(name="plans", subject="Plans", html=html))
    good = request(person("a@example.com", traits={"plans": [1, 2]}), tpl)
    slow = request(person("b@example.com", traits={"plans": list(range(1000))}), tpl)
    assert run_sender(raw_event([slow, good])) == {"batchItemFailures": []}
    assert ses_send_count() == 1
    failed = send_record(slow.message_id)
    assert failed.status is SendStatus.FAILED
    assert failed.reason.startswith(
        "render: The template's html cannot be rendered: it takes more than 20000"
    )
    assert send_record(good.message_id).status is SendStatus.SENT


def test_a_trait_link_with_a_data_url_is_sent_without_it(aws: StackTemplate) -> None:
    html = '<html><body><a href="{{ traits.website }}">Your site</a></body></html>'
    tpl = template(TemplateContent(name="site", subject="Your site", html=html))
    send = request(person(traits={"website": "data:text/html,<script>alert(1)</script>"}), tpl)
    assert run_sender(raw_event([send])) == {"batchItemFailures": []}
    (message,) = ses_messages()
    body = message.get_body(("html",))
    assert body is not None
    assert "<a>Your site</a>" in body.get_content()
    assert b"data:text/html" not in message.as_bytes()
    assert send_record(send.message_id).status is SendStatus.SENT
