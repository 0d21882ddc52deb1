"""Subscription topics (docs/customer-data.md, "Preference center"): created and changed by marketers,
read by campaigns and journeys (does the topic they name exist?) and by the preference center (which
topics to offer). The sender needs no topic read: it checks the person's consent for the topic the send
request names."""

from __future__ import annotations

from collections.abc import Callable

from leadstream import clock
from leadstream.errors import Conflict, InvalidInput, NotFound
from mail.store import topics as store
from mail.topic_models import Topic, TopicContent, TopicCreate


def list_topics() -> list[Topic]:
    """Live topics first, then archived ones; each by id."""
    return sorted(store.all_topics(), key=lambda topic: (topic.archived, topic.topic_id))


def live_topics() -> list[Topic]:
    return [topic for topic in store.all_topics() if not topic.archived]


def get_topic(topic_id: str) -> Topic:
    topic = store.get_topic(topic_id)
    if topic is None:
        raise NotFound(f"There is no topic {topic_id!r}; list them with GET /marketing/topics.")
    return topic


def create_topic(body: TopicCreate, *, user: str) -> Topic:
    topic = Topic.new(body, at=clock.now(), user=user)
    if not store.save(topic):
        raise Conflict(f"A topic {body.topic_id!r} exists already; change it with PUT instead.")
    return topic


def update_topic(
    topic_id: str, body: TopicContent, *, check_version: Callable[[int], None], user: str
) -> Topic:
    current = get_topic(topic_id)
    check_version(current.version)
    changed = Topic.model_validate(
        {
            **current.model_dump(by_alias=True),
            **body.model_dump(by_alias=True),
            "version": current.version + 1,
            "updatedAt": clock.now(),
            "updatedBy": user,
        }
    )
    if not store.save(changed):
        raise Conflict(f"Topic {topic_id!r} changed meanwhile; read it again and retry.")
    return changed


def find_topic(topic_id: str) -> Topic | None:
    return store.get_topic(topic_id)


def require_topic(topic_id: str | None, field: str) -> None:
    """For campaigns and journeys: the topic they name must exist and be live (None: no topic)."""
    if topic_id is None:
        return
    topic = store.get_topic(topic_id)
    if topic is None or topic.archived:
        message = "no such topic" if topic is None else "the topic is archived"
        raise InvalidInput(
            f"{field} {topic_id!r}: {message}; list the topics with GET /marketing/topics.",
            errors=[{"field": field, "message": message}],
        )
