"""What the marketing API returns and accepts: views of profiles and events, and request bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from leadstream.events import TrackedEvent
from leadstream.models import Model
from leadstream.profiles import Profile
from leadstream.scores import Stage
from scoring.handoffs import HandoffRecord


class _View(Model):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ProfileSummary(_View):
    profile_id: str = Field(alias="profileId")
    email: str | None
    user_id: str | None = Field(alias="userId")
    name: str | None
    company: str | None
    stage: Stage | None
    engagement: float  # current, decayed to now
    fit: int
    grade: str | None
    tags: list[str]
    last_seen: str | None = Field(alias="lastSeen")

    @classmethod
    def of(cls, profile: Profile, now: datetime) -> ProfileSummary:
        traits = profile.traits
        company = traits.get("company")
        name = traits.get("name") or " ".join(
            str(part) for part in (traits.get("firstName"), traits.get("lastName")) if part
        )
        return cls(
            profile_id=profile.profile_id,
            email=profile.email,
            user_id=profile.user_id,
            name=str(name) if name else None,
            company=str(company.get("name") if isinstance(company, dict) else company) if company else None,
            stage=profile.stage,
            engagement=round(profile.score.engagement_at(now), 1),
            fit=profile.score.fit,
            grade=profile.score.grade,
            tags=profile.tags,
            last_seen=profile.model_dump(by_alias=True, mode="json").get("lastSeen"),
        )


class ProfileDetail(ProfileSummary):
    traits: dict[str, Any]
    identities: list[dict[str, str]]
    first_seen: str | None = Field(alias="firstSeen")
    first_touch: dict[str, Any] | None = Field(alias="firstTouch")
    last_touch: dict[str, Any] | None = Field(alias="lastTouch")
    stage_history: list[dict[str, Any]] = Field(alias="stageHistory")
    half_life_days: float = Field(alias="halfLifeDays")
    handoffs: list[dict[str, Any]]
    merged_into: str | None = Field(alias="mergedInto")
    revenue: dict[str, str] | None = Field(
        default=None, description="realized revenue per currency (won deals, orders, renewals), if any"
    )
    location: dict[str, str] | None = Field(
        default=None, description="country, region, city, timeZone where last seen (from the IP address)"
    )
    external_ids: list[dict[str, str]] = Field(
        default_factory=list, alias="externalIds", description="accounts in other systems: {type, id}"
    )

    @classmethod
    def full(cls, profile: Profile, handoffs: list[HandoffRecord], now: datetime) -> ProfileDetail:
        stored = profile.model_dump(by_alias=True, mode="json")
        return cls(
            **ProfileSummary.of(profile, now).model_dump(),
            traits=stored.get("traits", {}),
            identities=[{"kind": ref.kind, "value": ref.value} for ref in profile.identities],
            first_seen=stored.get("firstSeen"),
            first_touch=stored.get("firstTouch"),
            last_touch=stored.get("lastTouch"),
            stage_history=stored.get("stageHistory", []),
            half_life_days=profile.score.half_life_days,
            handoffs=[_handoff_view(record) for record in handoffs],
            merged_into=profile.merged_into,
            location=(
                profile.location.model_dump(by_alias=True, exclude_none=True, exclude={"stamp"})
                if profile.location
                else None
            ),
            external_ids=[
                {"type": ref.value.split(":", 1)[0], "id": ref.value.split(":", 1)[1]}
                for ref in profile.identities
                if ref.kind == "ext" and ":" in ref.value
            ],
        )


def _handoff_view(record: HandoffRecord) -> dict[str, Any]:
    view = record.model_dump(by_alias=True, mode="json", exclude_none=True)
    for step in ("email", "event"):
        state = getattr(record, step)
        view[step] = state.status if state is not None else ("pending" if not record.completed_at else "none")
    return view


class EventView(_View):
    source_id: str = Field(alias="sourceId")
    message_id: str = Field(alias="messageId")
    type: str
    event: str | None
    name: str | None
    timestamp: datetime
    url: str | None
    properties: dict[str, Any]

    @classmethod
    def of(cls, event: TrackedEvent) -> EventView:
        page = event.context.get("page")
        url = (page.get("url") if isinstance(page, dict) else None) or event.properties.get("url")
        return cls(
            source_id=event.source_id,
            message_id=event.message_id,
            type=event.type,
            event=event.event,
            name=event.name,
            timestamp=event.timestamp,
            url=str(url) if url else None,
            properties=event.properties,
        )


class StageRequest(Model):
    model_config = ConfigDict(extra="forbid")

    stage: Stage
    reason: str | None = Field(default=None, max_length=1000)
