"""Subscription topics: what marketing email is about (a newsletter, product news, events). Campaigns
and journey send steps name one; a person opts out of a topic on the preference center (consent purpose
`topic:<topicId>`, leadstream.consents) and hears no more about it (docs/customer-data.md)."""

from __future__ import annotations

from pydantic import AwareDatetime, ConfigDict, Field

from leadstream.consents import TOPIC_ID_PATTERN
from leadstream.models import Model
from leadstream.profiles import UtcTime


class TopicContent(Model):
    """What a marketer writes: the name and description a person sees on the preference center."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)
    archived: bool = Field(
        default=False, description="no longer offered: hidden from the preference center, not for new sends"
    )


class TopicCreate(TopicContent):
    topic_id: str = Field(alias="topicId", pattern=TOPIC_ID_PATTERN, description="lower case, digits, -")


class Topic(TopicContent):
    model_config = ConfigDict(
        defer_build=True, populate_by_name=True, extra="ignore", serialize_by_alias=True
    )

    topic_id: str = Field(alias="topicId")
    version: int = Field(default=1, ge=1)
    created_at: UtcTime = Field(alias="createdAt")
    updated_at: UtcTime = Field(alias="updatedAt")
    updated_by: str | None = Field(default=None, alias="updatedBy")

    @classmethod
    def new(cls, body: TopicCreate, *, at: AwareDatetime, user: str) -> Topic:
        return cls.model_validate(
            {
                **body.model_dump(by_alias=True),
                "version": 1,
                "createdAt": at,
                "updatedAt": at,
                "updatedBy": user,
            }
        )
