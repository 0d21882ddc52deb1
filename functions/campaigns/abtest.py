"""A/B tests of a campaign: who gets which variant, and whether the test found a winner (docs/campaigns.md).

Assignment is a pure function of (campaign, person): `bucket` hashes the pair into [0, 100). With a test
phase, buckets below the test percentage are the test group, split among the variants by weight; the
rest wait for the decision. Without one, the whole segment is split by weight. The same person always
lands in the same bucket, so a redelivered page, a rerun or a report can recompute it.

The decision compares the best variant with the runner-up by a pooled two-proportion z-test:

    p = (x1 + x2) / (n1 + n2)                              (pooled rate)
    z = (x1/n1 - x2/n2) / sqrt(p (1 - p) (1/n1 + 1/n2))
    p-value = 2 (1 - Phi(|z|)) = erfc(|z| / sqrt(2))       (two-sided)
    confidence = 1 - p-value

A winner is declared only when the confidence reaches the campaign's level and every variant has at
least the minimum sample; otherwise there is no winner and the rest get the first variant (the control).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

BUCKETS = 100.0
DEFAULT_MIN_SAMPLE = 30


def bucket(campaign_id: str, profile_id: str) -> float:
    """The person's place in [0, 100) for this campaign: uniform, stable, independent between campaigns."""
    digest = hashlib.sha256(f"{campaign_id}\x1f{profile_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * BUCKETS


def pick_by_weight(position: float, weights: Sequence[int]) -> int:
    """The index whose share of [0, 1) contains `position` (shares proportional to `weights`)."""
    total = sum(weights)
    point = position * total
    running = 0.0
    for index, weight in enumerate(weights):
        running += weight
        if point < running:
            return index
    return len(weights) - 1  # position rounding to exactly 1.0


def test_variant(
    campaign_id: str, profile_id: str, weights: Sequence[int], test_percentage: float | None
) -> int | None:
    """The variant index a person gets in the first send (test phase or plain split); None: in the rest,
    waiting for the decision."""
    place = bucket(campaign_id, profile_id)
    if test_percentage is None:
        return pick_by_weight(place / BUCKETS, weights)
    if place < test_percentage:
        return pick_by_weight(place / test_percentage, weights)
    return None


@dataclass(frozen=True)
class Arm:
    """One variant's result: `successes` (opens, clicks or conversions) out of `trials` (delivered)."""

    variant: str
    successes: int
    trials: int

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials else 0.0


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float

    @property
    def confidence(self) -> float:
        return 1.0 - self.p_value


def two_proportion_z_test(first: Arm, second: Arm) -> ZTest:
    """Pooled two-proportion z-test, two-sided. No difference measurable (an empty arm, or both rates 0
    or 1) is z = 0, p = 1."""
    n1, n2 = first.trials, second.trials
    if n1 == 0 or n2 == 0:
        return ZTest(z=0.0, p_value=1.0)
    pooled = (first.successes + second.successes) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return ZTest(z=0.0, p_value=1.0)
    z = (first.rate - second.rate) / math.sqrt(variance)
    return ZTest(z=z, p_value=math.erfc(abs(z) / math.sqrt(2)))


@dataclass(frozen=True)
class Decision:
    winner: str | None  # None: no winner (noise, or too small a sample)
    chosen: str  # what the rest of the segment gets: the winner, else the control (first variant)
    confidence: float | None
    p_value: float | None
    z: float | None
    reason: str


def decide(arms: Sequence[Arm], *, level: float, min_sample: int = DEFAULT_MIN_SAMPLE) -> Decision:
    """Best vs runner-up by rate; a winner only at `level` confidence with `min_sample` trials per arm.
    `arms` are in the campaign's variant order; the first is the control."""
    if len(arms) < 2:
        raise ValueError("an A/B decision needs at least two variants")
    control = arms[0].variant
    ranked = sorted(arms, key=lambda arm: arm.rate, reverse=True)  # stable: ties keep variant order
    best, runner_up = ranked[0], ranked[1]
    test = two_proportion_z_test(best, runner_up)
    small = [arm.variant for arm in arms if arm.trials < min_sample]
    if small:
        reason = f"too few delivered to decide (under {min_sample} for {', '.join(small)})"
        return Decision(None, control, test.confidence, test.p_value, test.z, reason)
    if best.rate == runner_up.rate or test.confidence < level:
        reason = (
            f"no significant difference between {best.variant} and {runner_up.variant} "
            f"(confidence {test.confidence:.3f} < {level})"
        )
        return Decision(None, control, test.confidence, test.p_value, test.z, reason)
    reason = f"{best.variant} beats {runner_up.variant} at confidence {test.confidence:.3f} >= {level}"
    return Decision(best.variant, best.variant, test.confidence, test.p_value, test.z, reason)
