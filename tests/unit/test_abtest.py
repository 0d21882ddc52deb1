"""A/B statistics and assignment: the z-test against worked values, decisions on signal and on noise."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns import abtest
from campaigns.abtest import Arm, decide, two_proportion_z_test


def test_z_test_matches_the_worked_example() -> None:
    # 45 of 100 vs 30 of 100: pooled p = 75/200 = 0.375; se = sqrt(0.375 * 0.625 * (1/100 + 1/100))
    # = 0.0684653; z = 0.15 / 0.0684653 = 2.19089; two-sided p = 2 * (1 - Phi(2.19089)) = 0.02846.
    result = two_proportion_z_test(Arm("A", 45, 100), Arm("B", 30, 100))
    assert result.z == pytest.approx(2.190890, abs=1e-6)
    assert result.p_value == pytest.approx(0.028460, abs=1e-6)
    assert result.confidence == pytest.approx(0.971540, abs=1e-6)


def test_z_test_is_symmetric_in_sign() -> None:
    forward = two_proportion_z_test(Arm("A", 45, 100), Arm("B", 30, 100))
    backward = two_proportion_z_test(Arm("B", 30, 100), Arm("A", 45, 100))
    assert backward.z == pytest.approx(-forward.z)
    assert backward.p_value == pytest.approx(forward.p_value)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (Arm("A", 0, 0), Arm("B", 5, 10)),
        (Arm("A", 0, 50), Arm("B", 0, 50)),
        (Arm("A", 50, 50), Arm("B", 9, 9)),
    ],
)
def test_no_measurable_difference_is_p_one(first: Arm, second: Arm) -> None:
    result = two_proportion_z_test(first, second)
    assert (result.z, result.p_value) == (0.0, 1.0)


def test_a_clear_difference_has_a_winner() -> None:
    decision = decide([Arm("A", 30, 100), Arm("B", 45, 100)], level=0.95)
    assert decision.winner == "B"
    assert decision.chosen == "B"
    assert decision.confidence == pytest.approx(0.971540, abs=1e-6)


def test_the_same_difference_is_not_enough_at_a_higher_level() -> None:
    decision = decide([Arm("A", 30, 100), Arm("B", 45, 100)], level=0.99)
    assert decision.winner is None
    assert decision.chosen == "A"  # the control
    assert "no significant difference" in decision.reason


def test_noise_has_no_winner() -> None:
    # 52 of 500 vs 48 of 500: z = 0.42, p = 0.67. B is "better" by chance only.
    decision = decide([Arm("A", 48, 500), Arm("B", 52, 500)], level=0.95)
    assert decision.winner is None
    assert decision.chosen == "A"
    assert decision.p_value == pytest.approx(0.673290, abs=1e-6)


def test_too_small_a_sample_has_no_winner_however_big_the_difference() -> None:
    decision = decide([Arm("A", 0, 20), Arm("B", 20, 20)], level=0.95, min_sample=30)
    assert decision.winner is None
    assert decision.chosen == "A"
    assert "too few" in decision.reason


def test_three_variants_compare_the_best_with_the_runner_up() -> None:
    # C (50%) is best, B (44%) runner-up: 50 vs 44 of 100 is not significant, though C vs A (10%) would be.
    decision = decide([Arm("A", 10, 100), Arm("B", 44, 100), Arm("C", 50, 100)], level=0.95)
    assert decision.winner is None
    assert "between C and B" in decision.reason


def test_equal_rates_never_win() -> None:
    assert decide([Arm("A", 40, 100), Arm("B", 40, 100)], level=0.5).winner is None


def test_a_decision_needs_two_variants() -> None:
    with pytest.raises(ValueError, match="two variants"):
        decide([Arm("A", 1, 100)], level=0.95)


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_a_bucket_is_stable_and_in_range(campaign: str, profile: str) -> None:
    place = abtest.bucket(campaign, profile)
    assert 0 <= place < 100
    assert abtest.bucket(campaign, profile) == place


def test_buckets_are_uniform_and_split_by_weight() -> None:
    people = [f"p-{n}" for n in range(20_000)]
    tested = Counter(abtest.test_variant("cmp-x", p, [1, 1], 20.0) for p in people)
    # 20% tested, split evenly; the rest (None) wait. Binomial sd of the tested share is 0.3%.
    assert tested[None] / len(people) == pytest.approx(0.80, abs=0.015)
    assert tested[0] / len(people) == pytest.approx(0.10, abs=0.01)
    assert tested[1] / len(people) == pytest.approx(0.10, abs=0.01)
    weighted = Counter(abtest.test_variant("cmp-y", p, [70, 30], None) for p in people)
    assert weighted[0] / len(people) == pytest.approx(0.70, abs=0.015)
    assert None not in weighted


@given(
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.lists(st.integers(1, 100), min_size=1, max_size=5),
)
def test_pick_by_weight_always_picks_a_variant(position: float, weights: list[int]) -> None:
    assert 0 <= abtest.pick_by_weight(position, weights) < len(weights)


def test_pick_by_weight_follows_the_cumulative_shares() -> None:
    assert [abtest.pick_by_weight(x, [1, 3]) for x in (0.0, 0.24, 0.25, 0.99)] == [0, 0, 1, 1]
    assert math.isclose(abtest.bucket("a", "b"), abtest.bucket("a", "b"))
