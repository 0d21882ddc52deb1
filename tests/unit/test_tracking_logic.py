"""The tracking logic on plain values, with the store replaced by an in-memory one (no AWS at all)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from pydantic import HttpUrl

from leadstream.errors import Forbidden, NotFound, Unauthorized
from leadstream.events import TrackedEvent
from tracking import logic
from tracking.sources import Form, Source

SOURCE = Source(
    source_id="src-1", name="Site", write_key="write-key-0001", allowed_origins=["https://www.example.com"]
)
FORM = Form(
    form_id="demo", source_id="src-1", name="Demo", thank_you_url=HttpUrl("https://www.example.com/thanks")
)
BASIC = "Basic " + base64.b64encode(b"write-key-0001:").decode()


@dataclass
class MemoryStore:
    sources: dict[str, Source] = field(default_factory=lambda: {SOURCE.source_id: SOURCE})
    forms: dict[str, Form] = field(default_factory=lambda: {FORM.form_id: FORM})
    written: list[TrackedEvent] = field(default_factory=list)

    def store(self) -> logic.Store:
        return logic.Store(
            source_by_write_key=lambda key: next(
                (source for source in self.sources.values() if source.write_key == key), None
            ),
            source_by_id=self.sources.get,
            form_by_id=self.forms.get,
            store_events=self._write,
        )

    def _write(self, events: Sequence[TrackedEvent]) -> None:
        self.written.extend(events)


def _request(body: object, *headers: tuple[str, str]) -> logic.HttpRequest:
    return logic.HttpRequest(
        headers={"content-type": "application/json", "authorization": BASIC, **dict(headers)},
        body=json.dumps(body).encode(),
    )


def test_a_batch_is_stored_under_its_source_with_one_received_at() -> None:
    memory = MemoryStore()
    batch = [{"type": "track", "event": "E", "anonymousId": f"a-{i}"} for i in range(3)]
    before = datetime.now(UTC)
    outcome = logic.track("b", _request({"batch": batch}), memory.store())
    assert (outcome.accepted, outcome.rejected, outcome.to_json()) == (3, [], {"success": True})
    assert {event.source_id for event in memory.written} == {"src-1"}
    assert len({event.received_at for event in memory.written}) == 1
    assert memory.written[0].received_at >= before


def test_a_refused_origin_stores_nothing() -> None:
    memory = MemoryStore()
    request = _request({"event": "E", "anonymousId": "a"}, ("origin", "https://evil.example.net"))
    with pytest.raises(Forbidden):
        logic.track("track", request, memory.store())
    assert memory.written == []


def test_unknown_write_key_is_unauthorized() -> None:
    request = _request({"event": "E", "anonymousId": "a"}, ("authorization", ""))
    with pytest.raises(Unauthorized, match="No write key"):
        logic.track("track", request, MemoryStore().store())
    body = {"writeKey": "other-key-0001", "event": "E", "anonymousId": "a"}
    with pytest.raises(Unauthorized, match="Unknown write key"):
        logic.track("track", logic.HttpRequest(body=json.dumps(body).encode()), MemoryStore().store())


def test_pixel_is_stored_like_any_event() -> None:
    memory = MemoryStore()
    query = {"writeKey": "write-key-0001", "userId": "u-1", "event": "Email Opened", "emailId": "e-1"}
    logic.track_pixel("track", logic.HttpRequest(query=query), memory.store())
    (event,) = memory.written
    assert (event.event, event.user_id, event.properties) == ("Email Opened", "u-1", {"emailId": "e-1"})


def _form_post(fields: str, accept: str = "text/html") -> logic.HttpRequest:
    return logic.HttpRequest(
        headers={"content-type": "application/x-www-form-urlencoded", "accept": accept},
        body=fields.encode(),
    )


def test_a_caught_bot_gets_the_same_answer_and_nothing_is_stored() -> None:
    memory = MemoryStore()
    human = logic.submit_form("demo", _form_post("email=ada%40example.com"), memory.store())
    bot = logic.submit_form("demo", _form_post("email=x&website_url=spam"), memory.store())
    assert (bot.redirect_to, bot.to_json()) == (human.redirect_to, human.to_json())
    assert bot.redirect_to == "https://www.example.com/thanks"
    assert len(memory.written) == 1


def test_a_script_posting_a_form_is_not_redirected() -> None:
    outcome = logic.submit_form("demo", _form_post("email=ada%40example.com", "*/*"), MemoryStore().store())
    assert outcome.redirect_to is None


def test_a_form_whose_source_is_gone_is_not_found() -> None:
    memory = MemoryStore(sources={})
    with pytest.raises(NotFound, match="no form 'demo'"):
        logic.submit_form("demo", _form_post("email=ada%40example.com"), memory.store())
