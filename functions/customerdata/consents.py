"""A person's consents through the API (docs/customer-data.md, "Consent"): read the current ones and their
history, record answers given elsewhere (a call centre, a paper form, another tool) with source `api`.

`GET /marketing/profiles/{profileId}/consents` and `PUT` of the same path. A PUT records each answer it
holds (other purposes stay as they are); an answer the person already gave changes nothing, so a retried
PUT writes nothing twice. Every route needs the marketing or admin role.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import ConfigDict, Field, model_validator

from leadstream import clock
from leadstream.api import Api
from leadstream.auth import MARKETING
from leadstream.consents import MAX_TEXT, PURPOSE_PATTERN, TOPIC_PREFIX, Consent
from leadstream.errors import InvalidInput, NotFound, ServiceUnavailable
from leadstream.models import Model
from leadstream.profiles import Profile
from leadstream.store import consents as store
from leadstream.store.profiles import live_profile
from mail.topics import find_topic

SOURCE = "api"
MAX_ANSWERS = 50
ProfileIdPath = Annotated[str, Path(min_length=1, max_length=200, description="the profile's id")]


class ConsentAnswer(Model):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid")

    purpose: str = Field(pattern=PURPOSE_PATTERN, description="`tracking`, `email` or `topic:<topicId>`")
    granted: bool
    text: str | None = Field(
        default=None, min_length=1, max_length=MAX_TEXT, description="the words the person agreed to"
    )


class ConsentUpdate(Model):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    consents: list[ConsentAnswer] = Field(min_length=1, max_length=MAX_ANSWERS)

    @model_validator(mode="after")
    def _one_answer_per_purpose(self) -> ConsentUpdate:
        purposes = [answer.purpose for answer in self.consents]
        if len(set(purposes)) != len(purposes):
            raise ValueError("give each purpose once")
        return self


class ConsentHistoryEntry(Model):
    model_config = ConfigDict(
        defer_build=True, populate_by_name=True, serialize_by_alias=True, extra="ignore"
    )

    purpose: str
    granted: bool
    source: str
    text: str | None = None
    at: str
    message_id: str | None = Field(default=None, alias="messageId")


class ConsentView(Model):
    """A person's consents: the current answer per purpose, and every change, newest first."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    profile_id: str = Field(alias="profileId")
    current: dict[str, Consent] = Field(description="purpose -> the current answer (absent: never asked)")
    history: list[ConsentHistoryEntry]


def _person(profile_id: str) -> Profile:
    profile = live_profile(profile_id)
    if profile is None:
        raise NotFound(f"There is no profile {profile_id!r}.")
    return profile


def consent_document(profile: Profile) -> dict[str, Any]:
    """The person's consents as the API and the access export show them."""
    return ConsentView(
        profile_id=profile.profile_id,
        current=profile.consents,
        history=[ConsentHistoryEntry.model_validate(item) for item in store.history(profile.profile_id)],
    ).model_dump(mode="json", by_alias=True, exclude_none=True)


def _check_topics(body: ConsentUpdate) -> None:
    """A topic answer must name a topic that exists (archived ones too: an answer about them still counts)."""
    errors = [
        {"field": f"consents.{index}.purpose", "message": f"there is no topic {topic_id!r}"}
        for index, answer in enumerate(body.consents)
        if answer.purpose.startswith(TOPIC_PREFIX)
        and find_topic(topic_id := answer.purpose.removeprefix(TOPIC_PREFIX)) is None
    ]
    if errors:
        raise InvalidInput("An answer names a topic that does not exist; see errors.", errors=errors)


def register(api: Api) -> None:
    one = "/marketing/profiles/<profile_id>/consents"

    @api.route(
        "GET", one, policy=MARKETING, tag="consents", problems=[404],
        summary="A person's consents: the current answer per purpose, and their history",
    )  # fmt: skip
    def get_consents(profile_id: ProfileIdPath) -> ConsentView:
        return ConsentView.model_validate(consent_document(_person(profile_id)))

    @api.route(
        "PUT", one, policy=MARKETING, tag="consents", problems=[404, 503],
        summary="Record answers a person gave (source `api`); other purposes stay as they are",
    )  # fmt: skip
    def put_consents(profile_id: ProfileIdPath, body: ConsentUpdate) -> ConsentView:
        _check_topics(body)
        answers = {a.purpose: store.Answer(granted=a.granted, text=a.text) for a in body.consents}
        try:
            result = store.record(
                profile_id, answers, source=SOURCE, at=clock.now(), ref=f"api-{uuid.uuid4().hex[:12]}"
            )
        except store.ConsentConflict as exc:
            raise ServiceUnavailable(f"{exc}.") from None
        if result is None:
            raise NotFound(f"There is no profile {profile_id!r}.")
        return ConsentView.model_validate(consent_document(result[0]))
