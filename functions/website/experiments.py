"""Page A/B tests: which variant a visitor sees (sticky: a pure function of the page and the visitor's
anonymous id, so every view and the conversion agree without storing an assignment), and the report,
decided by the same pooled two-proportion z-test as email A/B tests (campaigns/abtest.py): no winner on
noise or on too small a sample.

Views and conversions are counted once per visitor and variant (website.store.count_once).
"""

from __future__ import annotations

from collections.abc import Mapping

from campaigns.abtest import BUCKETS, Arm, bucket, decide, pick_by_weight
from website.models import PageTest, PageTestReport, PageVariant, PageVariantReport


def test_key(slug: str) -> str:
    return f"page:{slug}"


def assign(slug: str, test: PageTest, anonymous_id: str) -> PageVariant:
    place = bucket(test_key(slug), anonymous_id) / BUCKETS
    return test.variants[pick_by_weight(place, [variant.weight for variant in test.variants])]


def view_metric(variant: str) -> str:
    return f"views:{variant}"


def conversion_metric(variant: str) -> str:
    return f"conversions:{variant}"


def report(slug: str, test: PageTest, counts: Mapping[str, int]) -> PageTestReport:
    arms = [
        Arm(
            variant.name,
            successes=min(
                counts.get(conversion_metric(variant.name), 0), counts.get(view_metric(variant.name), 0)
            ),
            trials=counts.get(view_metric(variant.name), 0),
        )
        for variant in test.variants
    ]
    decision = decide(arms, level=test.confidence, min_sample=test.min_sample)
    return PageTestReport(
        slug=slug,
        conversion=test.conversion.value
        if test.conversion.value != "event"
        else f"event:{test.conversion_event}",
        variants=[
            PageVariantReport(
                variant=arm.variant, views=arm.trials, conversions=arm.successes, rate=round(arm.rate, 6)
            )
            for arm in arms
        ],
        winner=decision.winner,
        confidence=decision.confidence,
        reason=decision.reason.replace("too few delivered", "too few views"),
    )
