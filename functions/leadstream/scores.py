"""What scoring keeps on a profile: lifecycle stage, engagement (decaying), fit, grade, and bookkeeping.

Engagement decays with a half-life without any job ever rewriting it: it is stored in *forward-decay*
form relative to a fixed epoch (docs/scoring.md has the math). Points `p` earned at time `t` are stored as
`p * 2**x(t)`, where `x(t)` is the number of half-lives from the epoch to `t`; the score at time `now` is
the stored sum times `2**-x(now)`. The factor is the same for every profile, so ordering profiles by the
stored value orders them by their current score, at any moment, forever.

The stored sum grows by a factor 2 per half-life, which no number type holds for long (DynamoDB numbers
end at 1e126), so it is kept as a float mantissa and an integer binary exponent: value = mantissa *
2**exponent. Rescaling the mantissa by a power of two is exact, so folding the same awards in the same
order always gives the same bits, whatever the batching.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from pydantic import ConfigDict, Field

from leadstream.models import Model

# The fixed landmark of forward decay. Never change it: every stored engagement value is relative to it.
DECAY_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
SECONDS_PER_DAY = 86_400
DEFAULT_HALF_LIFE_DAYS = 30.0
# A redelivered stream record is at most 24 h old (the stream's retention); remembering the events a
# profile was scored for over twice that window makes a redelivery recognisable with room to spare.
DEDUPE_WINDOW = timedelta(days=2)
# Per-day award counters are kept for the days a late event may still belong to.
DAILY_COUNTER_DAYS = 3


class Stage(StrEnum):
    """Lifecycle stages, in funnel order; `other` (partners, staff, competitors) is outside the funnel."""

    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MQL = "marketing-qualified"
    SQL = "sales-qualified"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    EVANGELIST = "evangelist"
    OTHER = "other"

    @property
    def rank(self) -> int:
        """Position in the funnel; `other` ranks nowhere (-1) and automatic changes never touch it."""
        return FUNNEL.index(self) if self in FUNNEL else -1

    def is_after(self, other: Stage | None) -> bool:
        """Whether moving from `other` to this stage is a move forward in the funnel."""
        if self is Stage.OTHER or other is Stage.OTHER:
            return False
        return other is None or self.rank > other.rank


FUNNEL: tuple[Stage, ...] = (
    Stage.SUBSCRIBER,
    Stage.LEAD,
    Stage.MQL,
    Stage.SQL,
    Stage.OPPORTUNITY,
    Stage.CUSTOMER,
    Stage.EVANGELIST,
)


class StageChange(Model):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    stage: Stage
    previous: Stage | None = None
    at: str  # ISO-8601 UTC
    by: str  # "scoring", "rule:<id>", "sales:<userId>", "admin:<userId>" ...
    reason: str | None = None


class Handoff(Model):
    """The profile's latest handoff to sales; the steps after the decision are in its handoff record."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    number: int  # 1 for the first handoff, 2 after a rejection and a new qualification ...
    lead_id: str = Field(alias="leadId")
    reason: str  # "hand-raiser" or "score"
    at: str  # ISO-8601 UTC of the event that qualified the person
    form_id: str | None = Field(default=None, alias="formId")
    completed: bool = False


# --- forward decay ----------------------------------------------------------------------------------------
def half_lives_since_epoch(at: datetime, half_life_days: float) -> float:
    return (at - DECAY_EPOCH).total_seconds() / (half_life_days * SECONDS_PER_DAY)


def decay_key(mantissa: float, exponent: int) -> str:
    """A string whose sort order is the order of `mantissa * 2**exponent`, exactly, for any values.

    The value is written as sign, binary exponent and a mantissa in [0.5, 1) (math.frexp); positive floats
    sort like their IEEE-754 bits, so fixed-width hex of each part sorts like the number. Negative values
    invert both parts so that -100 sorts before -1.
    """
    if mantissa == 0:
        return "2"
    fraction, shift = math.frexp(mantissa)
    power = exponent + shift
    if fraction > 0:
        return f"3{_ordered_int(power)}{_ordered_float(fraction)}"
    # 1 - |fraction| is exact for |fraction| in [0.5, 1) and shrinks as |fraction| grows.
    return f"1{_ordered_int(-power)}{_ordered_float(1 - abs(fraction))}"


def _ordered_int(value: int) -> str:
    return f"{value + (1 << 31):08x}"


def _ordered_float(value: float) -> str:
    return struct.pack(">d", value).hex()


# --- what scoring keeps ------------------------------------------------------------------------------------
class ScoreState(Model):
    """Scores and the bookkeeping that makes every award happen exactly once."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    # Engagement, forward-decayed: mantissa * 2**exponent, in points at the epoch (see module doc).
    mantissa: float = 0.0
    exponent: int = 0
    half_life_days: float = Field(default=DEFAULT_HALF_LIFE_DAYS, alias="halfLifeDays", gt=0)
    fit: int = 0
    grade: str | None = None
    # Events already scored (fingerprint -> receivedAt epoch seconds), kept for DEDUPE_WINDOW.
    applied: dict[str, int] = Field(default_factory=dict)
    # Once-per-profile rules that have fired; per rule and day, how many times a capped rule awarded.
    once: list[str] = Field(default_factory=list)
    daily: dict[str, int] = Field(default_factory=dict)
    # Profiles whose scores were added into this one (a merge is added once, even if retried).
    absorbed: list[str] = Field(default_factory=list)
    handoff: Handoff | None = None

    # --- engagement ------------------------------------------------------------------------------
    def add_points(self, points: float, at: datetime) -> None:
        """Add points earned at `at` (forward decay: worth p * 2**x(at) in epoch terms)."""
        x = half_lives_since_epoch(at, self.half_life_days)
        top = math.floor(x)
        if self.mantissa == 0:
            self.exponent = top
        elif top > self.exponent:
            self.mantissa = math.ldexp(self.mantissa, self.exponent - top)  # exact: a power of two
            self.exponent = top
        self.mantissa += points * 2 ** (x - self.exponent)

    def reset_engagement(self) -> None:
        """Back to nurture (a rejected lead): the person must earn the qualifying score afresh."""
        self.mantissa, self.exponent = 0.0, 0

    def engagement_at(self, at: datetime) -> float:
        """The engagement score as it stands at `at`: every award decayed by the time since it was earned."""
        if self.mantissa == 0:
            return 0.0
        return self.mantissa * 2 ** (self.exponent - half_lives_since_epoch(at, self.half_life_days))

    def add_stored(self, mantissa: float, exponent: int) -> None:
        """Add another stored engagement value (a merged profile's), aligning exponents exactly."""
        if mantissa == 0:
            return
        if self.mantissa == 0:
            self.mantissa, self.exponent = mantissa, exponent
            return
        top = max(self.exponent, exponent)
        self.mantissa = math.ldexp(self.mantissa, self.exponent - top) + math.ldexp(mantissa, exponent - top)
        self.exponent = top

    def use_half_life(self, half_life_days: float, at: datetime) -> None:
        """Re-express engagement under a new half-life, keeping its value at `at` (docs/scoring.md)."""
        if half_life_days == self.half_life_days:
            return
        current = self.engagement_at(at)
        self.mantissa, self.exponent, self.half_life_days = 0.0, 0, half_life_days
        self.add_points(current, at)

    @property
    def index_key(self) -> str:
        return decay_key(self.mantissa, self.exponent)

    # --- exactly once ----------------------------------------------------------------------------
    def has_applied(self, fingerprint: str) -> bool:
        return fingerprint in self.applied

    def remember(self, fingerprint: str, received_epoch: int) -> None:
        self.applied[fingerprint] = received_epoch
        # Forget what is older than the window, relative to the newest event remembered: a function of
        # the set alone, so any batching of the same events leaves the same set.
        horizon = max(self.applied.values()) - int(DEDUPE_WINDOW.total_seconds())
        if min(self.applied.values()) < horizon:
            self.applied = {key: value for key, value in self.applied.items() if value >= horizon}

    def is_stale(self, received_epoch: int) -> bool:
        """Older than the dedupe window reaches: it could be a redelivery we no longer recognise.

        Cannot happen with stream delivery (records live 24 h); such an event is not scored rather than
        risk counting it twice.
        """
        newest = max(self.applied.values(), default=received_epoch)
        return received_epoch < newest - int(DEDUPE_WINDOW.total_seconds())

    def awards_on(self, rule_id: str, day: date) -> int:
        return self.daily.get(f"{rule_id}|{day.isoformat()}", 0)

    def count_award(self, rule_id: str, day: date) -> None:
        self.daily[f"{rule_id}|{day.isoformat()}"] = self.awards_on(rule_id, day) + 1
        newest = max(key.rsplit("|", 1)[1] for key in self.daily)
        oldest_kept = (date.fromisoformat(newest) - timedelta(days=DAILY_COUNTER_DAYS - 1)).isoformat()
        self.daily = {key: value for key, value in self.daily.items() if key.rsplit("|", 1)[1] >= oldest_kept}

    def day_is_counted(self, day: date) -> bool:
        """Whether per-day caps can still be checked for `day` (its counters are kept)."""
        if not self.daily:
            return True
        newest = date.fromisoformat(max(key.rsplit("|", 1)[1] for key in self.daily))
        return day > newest - timedelta(days=DAILY_COUNTER_DAYS)

    # --- merges ----------------------------------------------------------------------------------
    def absorb(self, other: ScoreState, other_id: str) -> None:
        """Take a merged profile's scores and bookkeeping (once per absorbed profile)."""
        if other_id in self.absorbed:
            return
        self.absorbed = sorted({*self.absorbed, other_id, *other.absorbed})
        if other.half_life_days == self.half_life_days:
            self.add_stored(other.mantissa, other.exponent)
        elif other.mantissa:
            moved = other.model_copy(deep=True)
            moved.use_half_life(self.half_life_days, DECAY_EPOCH)
            self.add_stored(moved.mantissa, moved.exponent)
        for fingerprint, received in other.applied.items():
            self.applied[fingerprint] = max(received, self.applied.get(fingerprint, received))
        self.once = sorted({*self.once, *other.once})
        for key, count in other.daily.items():
            self.daily[key] = self.daily.get(key, 0) + count


def event_fingerprint(source_id: str, message_id: str) -> str:
    """A short, stable name for one stored event (what the dedupe window remembers)."""
    digest = hashlib.blake2b(f"{source_id}\n{message_id}".encode(), digest_size=9).digest()
    return base64.urlsafe_b64encode(digest).decode()


def grade_for(fit: int, boundaries: dict[str, int]) -> str:
    """The letter grade of a fit score: the best grade whose lower bound it reaches, else the last."""
    for letter, lower in sorted(boundaries.items(), key=lambda item: -item[1]):
        if fit >= lower:
            return letter
    return "D"
