"""Scoring one event on its profile: points, tags, stage, and the decision to hand the person to sales.

Pure logic, no AWS: `Scorer` is the hook identity resolution calls for every event it applies
(scoring.identity.BatchResolution), with the profile as it stands right after the event. Everything it
changes lives on the profile, so it is stored by the profile's one write per batch. docs/scoring.md states
the rules.

Exactly once: every scored event is remembered on the profile (ScoreState.applied, a window of two days,
longer than a stream record can be redelivered); a remembered event is skipped whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm.leads import handoff_lead_id
from leadstream.activity import count_event
from leadstream.events import TrackedEvent
from leadstream.profiles import Profile, iso_utc
from leadstream.scores import Handoff, ScoreState, Stage, event_fingerprint, grade_for
from scoring.journey_actions import action_of
from scoring.rules import EngagementRule, ScoringConfig

# What tracking stores for a form post (tracking.forms.FORM_SUBMITTED and its properties).
FORM_SUBMITTED = "Form Submitted"
SCORING = "scoring"


@dataclass
class Scorer:
    config: ScoringConfig

    def __call__(self, profile: Profile, event: TrackedEvent) -> None:
        score = profile.score
        settings = self.config.settings
        score.use_half_life(settings.half_life_days, event.timestamp)
        fingerprint = event_fingerprint(event.source_id, event.message_id)
        received = int(event.received_at.timestamp())
        fresh = not score.has_applied(fingerprint) and not score.is_stale(received)
        if fresh:
            self._apply_rules(profile, event)
            apply_journey_action(profile, event)
            profile.activity = count_event(profile.activity, event)
            # Every scored event is remembered, not only those that earned something: a redelivered one
            # must not even be looked at again (it would decide on a later state than the first time).
            score.remember(fingerprint, received)
        self._refresh_fit(profile)
        if profile.is_known and profile.stage is None:
            profile.move_to(Stage.SUBSCRIBER, at=iso_utc(event.timestamp), by=SCORING, reason="became known")
        if fresh:
            self._qualify(profile, event)

    # --- rules -----------------------------------------------------------------------------------
    def _apply_rules(self, profile: Profile, event: TrackedEvent) -> None:
        for rule in self.config.engagement:
            if rule.matches(event) and self._may_award(profile.score, rule, event):
                if rule.points:
                    profile.score.add_points(rule.points, event.timestamp)
                tags = (set(profile.tags) | set(rule.add_tags)) - set(rule.remove_tags)
                profile.tags = sorted(tags)
                if rule.stage is not None and profile.is_known and rule.stage.is_after(profile.stage):
                    profile.move_to(rule.stage, at=iso_utc(event.timestamp), by=f"rule:{rule.rule_id}")

    @staticmethod
    def _may_award(score: ScoreState, rule: EngagementRule, event: TrackedEvent) -> bool:
        """Once-per-profile and per-day caps; counts the award when it is allowed."""
        if rule.frequency == "once":
            if rule.rule_id in score.once:
                return False
            score.once = sorted({*score.once, rule.rule_id})
            return True
        if rule.daily_cap is None:
            return True
        day = event.timestamp.date()
        if not score.day_is_counted(day) or score.awards_on(rule.rule_id, day) >= rule.daily_cap:
            return False
        score.count_award(rule.rule_id, day)
        return True

    def _refresh_fit(self, profile: Profile) -> None:
        traits = {**profile.traits, "email": profile.email}
        profile.score.fit = self.config.fit_score(traits)
        profile.score.grade = grade_for(profile.score.fit, self.config.settings.grades)

    # --- qualification ---------------------------------------------------------------------------
    def _qualify(self, profile: Profile, event: TrackedEvent) -> None:
        """Marketing-qualified: a known person, not yet handed over, who raised a hand or scored enough."""
        settings = self.config.settings
        score = profile.score
        stage = profile.stage
        if (
            not profile.is_known
            or stage is Stage.OTHER
            or (stage is not None and stage.rank >= Stage.MQL.rank)
        ):
            return
        if settings.hand_raiser_qualifies and is_hand_raiser(event):
            reason = "hand-raiser"
        elif (
            score.engagement_at(_latest(profile, event)) >= settings.mql_engagement
            and score.fit >= settings.mql_fit
        ):
            reason = "score"
        else:
            return
        number = (score.handoff.number if score.handoff else 0) + 1
        at = iso_utc(event.timestamp)
        form_id = event.properties.get("formId") if reason == "hand-raiser" else None
        score.handoff = Handoff(
            number=number,
            lead_id=handoff_lead_id(profile.profile_id, number),
            reason=reason,
            at=at,
            form_id=str(form_id) if form_id else None,
        )
        profile.move_to(Stage.MQL, at=at, by=SCORING, reason=reason)


def apply_journey_action(profile: Profile, event: TrackedEvent) -> None:
    """A journey's tag, score or stage step (scoring.journey_actions), applied like a rule would be:
    stages only move forward, and only for a known person."""
    action = action_of(event)
    if action is None:
        return
    if action.action == "add_tag" and action.tag:
        profile.tags = sorted({*profile.tags, action.tag})
    elif action.action == "remove_tag" and action.tag:
        profile.tags = [tag for tag in profile.tags if tag != action.tag]
    elif action.action == "change_score" and action.points:
        profile.score.add_points(action.points, event.timestamp)
    elif action.stage is not None and profile.is_known and action.stage.is_after(profile.stage):
        profile.move_to(action.stage, at=iso_utc(event.timestamp), by=f"journey:{action.journey_id}")


def _latest(profile: Profile, event: TrackedEvent) -> datetime:
    """When to read the score: the latest event time seen, so that a late event (an earlier timestamp)
    never reads points earned after it at more than their worth."""
    return max(event.timestamp, profile.last_seen) if profile.last_seen else event.timestamp


def is_hand_raiser(event: TrackedEvent) -> bool:
    return (
        event.type == "track"
        and event.event == FORM_SUBMITTED
        and event.properties.get("handRaiser") in (True, "true", "1", 1)
    )
