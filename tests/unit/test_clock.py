"""The business clock: real time plus the local stack's offset, read through a settings model, and the
defaults that read it (so moving the local clock moves sending, scanner windows, handoffs ... alike)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadstream import clock
from leadstream.settings import ConfigurationError

TWO_DAYS = timedelta(days=2)


def _bracket(offset: timedelta) -> tuple[datetime, datetime, datetime]:
    before = datetime.now(UTC) + offset
    read = clock.now()
    after = datetime.now(UTC) + offset
    return before, read, after


def test_without_an_offset_it_is_real_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clock.OFFSET_VARIABLE, raising=False)
    before, read, after = _bracket(timedelta(0))
    assert before <= read <= after
    assert read.tzinfo is UTC


def test_the_offset_moves_now_and_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.OFFSET_VARIABLE, str(TWO_DAYS.total_seconds()))
    before, read, after = _bracket(TWO_DAYS)
    assert before <= read <= after
    assert clock.offset() == TWO_DAYS
    assert clock.today() in {before.date(), after.date()}
    assert clock.today() > datetime.now(UTC).date()


@pytest.mark.parametrize("value", ["soon", "-60", "nan", "inf"])
def test_a_malformed_offset_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(clock.OFFSET_VARIABLE, value)
    with pytest.raises(ConfigurationError, match=clock.OFFSET_VARIABLE):
        clock.now()


def test_time_defaults_read_the_business_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The moments production code stamps by default all follow the offset."""
    from mail.feedback import Feedback
    from mail.link_tracking import Visit
    from mail.sending import Sender
    from mail.templates import Templates

    monkeypatch.setenv(clock.OFFSET_VARIABLE, str(TWO_DAYS.total_seconds()))
    before = datetime.now(UTC) + TWO_DAYS
    assert Visit().at >= before  # an open or click: the scanner window compares it with sentAt
    for default in (Sender.now, Feedback.now, Templates.now):
        assert default is clock.now
