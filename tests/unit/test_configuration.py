"""Environment variables are read through settings models: a missing or malformed value fails with a
ConfigurationError that names the variable, before anything is sent."""

from __future__ import annotations

import pytest

from campaigns.config import DEFAULT_PAGE_SIZE, campaign_settings
from campaigns.launch import enqueue_page
from campaigns.models import FanoutPage
from journeys.store import enqueue_send
from leadstream.settings import ConfigurationError
from mail.config import get_email_settings
from mail.sends import SendRequest


def test_the_fanout_page_size_is_configured_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FANOUT_PAGE_SIZE", raising=False)
    assert campaign_settings().fanout_page_size == DEFAULT_PAGE_SIZE
    monkeypatch.setenv("FANOUT_PAGE_SIZE", "250")
    assert campaign_settings().fanout_page_size == 250
    for bad in ("0", "a thousand"):
        monkeypatch.setenv("FANOUT_PAGE_SIZE", bad)
        with pytest.raises(ConfigurationError, match="FANOUT_PAGE_SIZE"):
            campaign_settings()


def test_starting_a_fanout_without_its_queue_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FANOUT_QUEUE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="FANOUT_QUEUE_URL is not set"):
        enqueue_page(FanoutPage(campaign_id="cmp-1", phase="rest", page=0))


def test_sending_from_a_journey_without_the_send_queue_fails_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_SEND_QUEUE_URL", " ")
    assert get_email_settings().send_queue_url is None
    request = SendRequest(message_id="m-1", profile_id="p-1", template_id="t-1", template_version=1)
    with pytest.raises(ConfigurationError, match="EMAIL_SEND_QUEUE_URL is not set"):
        enqueue_send(request)
    monkeypatch.setenv("EMAIL_SEND_QUEUE_URL", "https://sqs.example/123/sends")
    assert get_email_settings().require_send_queue_url() == "https://sqs.example/123/sends"
