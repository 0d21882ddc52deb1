"""Properties of scoring, on plain models (no AWS): forward decay against the index order, and scores under
at-least-once delivery (redelivery, duplicates, any batching) through identity resolution and the scorer.

tests/integration/test_scoring_faults.py checks exactly-once through the handler on DynamoDB, with faults.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_identity_properties import InMemoryStore

from leadstream.events import SegmentMessage, TrackedEvent
from leadstream.scores import DECAY_EPOCH, ScoreState, decay_key
from scoring.engagement import Scorer
from scoring.identity import resolve_events
from scoring.rules import DEFAULT_ENGAGEMENT_RULES, DEFAULT_FIT_RULES, ScoringConfig, ScoringSettings

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONFIG = ScoringConfig(
    engagement=list(DEFAULT_ENGAGEMENT_RULES),
    fit=list(DEFAULT_FIT_RULES),
    settings=ScoringSettings(mql_engagement=60, mql_fit=0),
)

# --- forward decay and the index ---------------------------------------------------------------------------
awards = st.lists(
    st.tuples(
        st.integers(-100, 100).filter(bool),
        st.floats(0, 20 * 365, allow_nan=False),  # days after the epoch
    ),
    min_size=0,
    max_size=8,
)


def state_of(history: list[tuple[int, float]], half_life: float) -> ScoreState:
    state = ScoreState(half_life_days=half_life)
    for points, days in history:
        state.add_points(points, DECAY_EPOCH + timedelta(days=days))
    return state


@settings(max_examples=300)
@given(
    profiles=st.lists(awards, min_size=2, max_size=6),
    half_life=st.sampled_from([1.0, 7.0, 30.0, 90.0]),
    now_days=st.floats(20 * 365, 40 * 365, allow_nan=False),
)
def test_ordering_by_the_stored_key_is_ordering_by_the_current_score(
    profiles: list[list[tuple[int, float]]], half_life: float, now_days: float
) -> None:
    now = DECAY_EPOCH + timedelta(days=now_days)
    states = [state_of(history, half_life) for history in profiles]
    for first, second in itertools.combinations(states, 2):
        a, b = first.engagement_at(now), second.engagement_at(now)
        if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300):
            continue  # equal up to rounding: either order is right
        assert (first.index_key < second.index_key) == (a < b)


@settings(max_examples=300)
@given(history=awards, half_life=st.sampled_from([1.0, 30.0]), later=st.floats(0, 10_000, allow_nan=False))
def test_the_current_score_is_the_sum_of_decayed_awards(
    history: list[tuple[int, float]], half_life: float, later: float
) -> None:
    state = state_of(history, half_life)
    now = DECAY_EPOCH + timedelta(days=max((days for _, days in history), default=0) + later)
    expected = sum(points * 2 ** -((now - DECAY_EPOCH).days - days) for points, days in history)
    exact = sum(
        points * 2 ** -(((now - DECAY_EPOCH).total_seconds() / 86_400 - days) / half_life)
        for points, days in history
    )
    assert math.isclose(state.engagement_at(now), exact, rel_tol=1e-9, abs_tol=1e-9)
    assert isinstance(expected, float | int)


def test_decay_never_overflows_over_centuries() -> None:
    state = ScoreState(half_life_days=1)
    for year in range(0, 500, 50):
        state.add_points(10, DECAY_EPOCH + timedelta(days=365 * year))
    # Stored as mantissa and exponent: the mantissa stays small, the exponent counts half-lives.
    assert abs(state.mantissa) < 100
    assert state.exponent > 100_000
    assert math.isclose(state.engagement_at(DECAY_EPOCH + timedelta(days=365 * 450)), 10)
    assert decay_key(state.mantissa, state.exponent) > decay_key(1.0, 0)


def test_keys_order_negative_zero_and_positive_values() -> None:
    values = [(-3.0, 10), (-0.75, 10), (-1.0, 2), (0.0, 0), (0.5, -3), (1.0, 0), (0.75, 1), (1.0, 40)]
    actual = [mantissa * 2.0**exponent for mantissa, exponent in values]
    by_key = sorted(values, key=lambda value: decay_key(*value))
    assert [mantissa * 2.0**exponent for mantissa, exponent in by_key] == sorted(actual)


# --- scores under at-least-once delivery --------------------------------------------------------------------
ANONS = ["a1", "a2", "a3"]
EMAILS = ["one@corp.io", "two@gmail.com"]


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["page", "page", "track", "identify"]))
    message: dict[str, Any] = {"type": kind, "anonymousId": draw(st.sampled_from(ANONS))}
    if kind == "page":
        path = draw(st.sampled_from(["/", "/pricing", "/docs"]))
        message["context"] = {"page": {"url": f"https://x.io{path}"}}
    elif kind == "track":
        name = draw(st.sampled_from(["Content Downloaded", "Form Submitted", "Unsubscribed", "Email Opened"]))
        message["event"] = name
        if name == "Form Submitted":
            message["properties"] = {"formId": "f", "handRaiser": draw(st.booleans())}
            message["context"] = {"traits": {"email": draw(st.sampled_from(EMAILS))}}
    else:
        message["traits"] = {
            "email": draw(st.sampled_from(EMAILS)),
            "title": draw(st.sampled_from(["CTO", "dev"])),
        }
    return message


@st.composite
def event_sequences(draw: st.DrawFn) -> list[TrackedEvent]:
    """Events in stream order, hours apart (so caps, once-rules and decay all matter)."""
    events = []
    for index, raw in enumerate(draw(st.lists(messages(), min_size=1, max_size=14))):
        received = T0 + timedelta(hours=5 * index)
        happened = received - timedelta(minutes=draw(st.integers(0, 90)))
        message = {**raw, "messageId": f"m{index}", "timestamp": happened.isoformat()}
        events.append(SegmentMessage.model_validate(message).to_tracked("src", received))
    return events


@st.composite
def deliveries(draw: st.DrawFn, events: list[TrackedEvent]) -> list[list[TrackedEvent]]:
    """Batches as a stream delivers them at least once: restarts, duplicated records, a retried tail."""
    cuts = sorted(draw(st.sets(st.integers(1, len(events) - 1), max_size=4))) if len(events) > 1 else []
    bounds = [0, *cuts, len(events)]
    batches = []
    for start, end in itertools.pairwise(bounds):
        batch = events[max(0, start - draw(st.integers(0, 3))) : end]
        if draw(st.booleans()):
            batch = [*batch, draw(st.sampled_from(batch))]
        batches.append(batch)
    if draw(st.booleans()):
        batches.append(events[draw(st.integers(0, len(events) - 1)) :])
    return batches


def scored_after(batches: list[list[TrackedEvent]]) -> dict[str, Any]:
    store = InMemoryStore()
    for batch in batches:
        resolve_events(batch, store, Scorer(CONFIG))
    return store.snapshot()


@settings(max_examples=300)
@given(st.data())
def test_redelivery_duplicates_and_batching_leave_the_same_scores(data: st.DataObject) -> None:
    events = data.draw(event_sequences())
    expected = scored_after([events])
    assert scored_after(data.draw(deliveries(events))) == expected  # scores, tags, stages, handoffs, bits
    assert scored_after([[event] for event in events]) == expected


@settings(max_examples=100)
@given(st.data())
def test_a_batch_delivered_again_changes_nothing_at_all(data: st.DataObject) -> None:
    events = data.draw(event_sequences())
    store = InMemoryStore()
    resolve_events(events, store, Scorer(CONFIG))
    before = {pid: profile.model_copy(deep=True) for pid, profile in store.items.items()}
    outcome = resolve_events(data.draw(st.permutations(events)), store, Scorer(CONFIG))
    assert outcome.writes == 0
    assert store.items == before
