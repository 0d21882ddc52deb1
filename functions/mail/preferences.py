"""The preference center: the page behind the signed link in every marketing email (docs/customer-data.md).

A GET shows the person's topics, each with its state, and "unsubscribe from all"; it changes nothing
(mail security gateways fetch every link of every email). A POST of the page's form saves: the topics
ticked are granted, the others declined, each recorded as consent with source `preference-center` and the
words the page showed (leadstream.store.consents). "Unsubscribe from all", and RFC 8058's one-click POST
from the mail client, suppress the address, decline `email` and count the unsubscribe once
(mail.link_tracking), which the catalog publishes as `email.unsubscribed`.

What a POST may hold is small and checked: form encodings only (RFC 8058 allows both), at most
MAX_BODY_BYTES, UTF-8, known fields, only topics the page offers. Anything else is a 4xx that says what
is wrong, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from leadstream.consents import EMAIL, allows, topic_purpose
from leadstream.errors import InvalidInput, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType
from leadstream.profiles import Profile
from leadstream.store import consents as consent_store
from leadstream.store.consents import Answer
from leadstream.store.profiles import live_profile
from mail import topics as topic_logic
from mail.link_tracking import EmailLinks, Visit, email_links
from mail.sends import SendRecord
from mail.store import suppression
from mail.suppression import blocks_marketing
from mail.topic_models import Topic
from tracking import forms, parsing

MAX_BODY_BYTES = 16 * 1024
SOURCE = "preference-center"
UNSUBSCRIBE_ALL_TEXT = "Unsubscribe from all marketing email"
ONE_CLICK_TEXT = "Unsubscribe (one-click, from the mail client)"
ACTIONS = ("save", "unsubscribe-all")
KNOWN_FIELDS = frozenset({"action", "topic", "List-Unsubscribe"})
ONE_CLICK_BODY = b"List-Unsubscribe=One-Click"


def topic_text(topic: Topic) -> str:
    """The words a person agrees to by ticking a topic (kept with the consent as its proof)."""
    return f"Email about {topic.name}" + (f": {topic.description}" if topic.description else "")


@dataclass(frozen=True)
class TopicChoice:
    topic: Topic
    subscribed: bool


@dataclass(frozen=True)
class Preferences:
    """What the page shows: the email's address, whether it is unsubscribed from all, and the topics."""

    record: SendRecord
    unsubscribed: bool
    topics: list[TopicChoice]
    saved: bool = False  # shown after a POST


@dataclass(frozen=True)
class PreferenceStore:
    profile: Callable[[str], Profile | None]
    topics: Callable[[], list[Topic]]
    suppressed: Callable[[str], bool]
    record: Callable[..., Any]


def dynamo_store() -> PreferenceStore:
    return PreferenceStore(
        profile=live_profile,
        topics=topic_logic.live_topics,
        suppressed=lambda email: blocks_marketing(suppression.get_suppression(email)),
        record=_record,
    )


def _record(profile_id: str, answers: Mapping[str, Answer], **fields: Any) -> Any:
    try:
        return consent_store.record(profile_id, answers, **fields)
    except consent_store.ConsentConflict as exc:  # the profile kept changing: the person may press again
        raise ServiceUnavailable(f"{exc}.") from None


@dataclass(frozen=True)
class PreferenceCenter:
    links: EmailLinks
    store: PreferenceStore

    def show(self, token: str) -> Preferences | None:
        """GET: the person's preferences (None: not an email we sent). Reads only."""
        record = self.links.unsubscribe_target(token)
        return self._preferences(record) if record is not None else None

    def submit(
        self, token: str, body: bytes, content_type: str | None, visit: Visit
    ) -> tuple[Preferences | None, str]:
        """POST: save the topics, or unsubscribe from all. The body is checked before anything is read."""
        fields = read_body(body, content_type)
        action = _action(fields)
        record = self.links.unsubscribe_target(token)
        if record is None:
            return None, action
        if action == "save":
            offered = {topic.topic_id: topic for topic in self.store.topics()}
            wanted = _topics_of(fields, offered)
            answers = {
                topic_purpose(topic_id): Answer(granted=topic_id in wanted, text=topic_text(topic))
                for topic_id, topic in offered.items()
            }
            if answers:
                self.store.record(
                    record.profile_id, answers, source=SOURCE, at=visit.at, ref=f"prefs-{record.message_id}"
                )
            return self._preferences(record, saved=True), action
        one_click = action == "one-click"
        self.links.unsubscribe(token, visit, one_click=one_click)
        self.store.record(
            record.profile_id,
            {EMAIL: Answer(granted=False, text=ONE_CLICK_TEXT if one_click else UNSUBSCRIBE_ALL_TEXT)},
            source=SOURCE,
            at=visit.at,
            ref=f"unsubscribe-{record.message_id}",
        )
        return self._preferences(record, saved=True), action

    def _preferences(self, record: SendRecord, *, saved: bool = False) -> Preferences:
        profile = self.store.profile(record.profile_id)
        consents = profile.consents if profile is not None else {}
        unsubscribed = not allows(consents, EMAIL) or (
            record.email is not None and self.store.suppressed(record.email)
        )
        choices = [
            TopicChoice(topic, allows(consents, topic_purpose(topic.topic_id)))
            for topic in self.store.topics()
        ]
        return Preferences(
            record=record, unsubscribed=unsubscribed, topics=choices if profile else [], saved=saved
        )


def read_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The posted fields: form encoding (what the page and mail clients send), small, UTF-8."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The form is over {MAX_BODY_BYTES} bytes; send only the page's own fields.")
    kind = parsing.media_type(content_type) if content_type else forms.URLENCODED
    if kind not in (forms.URLENCODED, forms.MULTIPART):
        if body.strip() == ONE_CLICK_BODY:  # RFC 8058's body under a content type a client got wrong
            return {"List-Unsubscribe": "One-Click"}
        raise UnsupportedMediaType(f"Send the preferences as {forms.URLENCODED} (the page's form does).")
    # RFC 8058 lets mail clients send one-click as either form encoding.
    fields = forms.read_fields(body, content_type if kind == forms.MULTIPART else forms.URLENCODED)
    unknown = sorted(set(fields) - KNOWN_FIELDS)
    if unknown:
        raise InvalidInput(
            f"Unknown field {unknown[0][:40]!r}; the page sends `action` and `topic`.",
            errors=[{"field": name[:40], "message": "not a field of this page"} for name in unknown[:10]],
        )
    return fields


def _action(fields: Mapping[str, Any]) -> str:
    """`save`, `unsubscribe-all`, or `one-click` (RFC 8058's body, or a bare POST as older pages sent)."""
    action = fields.get("action")
    if action is None:
        return "one-click" if fields.get("List-Unsubscribe") == "One-Click" else "unsubscribe-all"
    if not isinstance(action, str) or action not in ACTIONS:
        raise InvalidInput(
            "`action` must be `save` or `unsubscribe-all`.",
            errors=[{"field": "action", "message": "must be save or unsubscribe-all"}],
        )
    return action


def _topics_of(fields: Mapping[str, Any], offered: Mapping[str, Topic]) -> set[str]:
    raw = fields.get("topic", [])
    chosen = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
    unknown = [value for value in chosen if not isinstance(value, str) or value not in offered]
    if unknown:
        shown = str(unknown[0])[:40]
        raise InvalidInput(
            f"There is no topic {shown!r} on this page; reload it and choose again.",
            errors=[{"field": "topic", "message": f"unknown topic {shown!r}"}],
        )
    return set(chosen)


def preference_center() -> PreferenceCenter:
    return PreferenceCenter(links=email_links(), store=dynamo_store())
