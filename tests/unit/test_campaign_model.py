"""Campaign content validation, variants, phases and the send request each member gets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from campaigns import abtest
from campaigns.models import AbDecision, AbMetric, Campaign, CampaignContent, CampaignStatus
from mail.reports import SINGLE_VARIANT, Counters, Metric, group_of, total
from mail.sends import SendRequest, message_id_for

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def content(**fields: Any) -> dict[str, Any]:
    return {"name": "Spring", "segmentId": "seg-1", "templateId": "tpl-1", **fields}


def ab_content(**fields: Any) -> dict[str, Any]:
    body = content(
        variants=[{"templateId": "tpl-a"}, {"templateId": "tpl-b", "weight": 3}],
        abTest={"testPercentage": 20, "metric": "click", "decideAfterHours": 4},
        **fields,
    )
    body.pop("templateId")
    return body


def campaign(body: dict[str, Any], **fields: Any) -> Campaign:
    return Campaign.model_validate(
        {**body, "campaignId": "cmp-1", "createdAt": NOW, "updatedAt": NOW, "startedAt": NOW, **fields}
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "segmentId": "s"}, "either `templateId`"),
        (content(variants=[{"templateId": "a"}, {"templateId": "b"}]), "either `templateId`"),
        (content(abTest={"testPercentage": 10, "decideAfterHours": 1}), "needs `variants`"),
        (
            {**ab_content(), "abTest": {"testPercentage": 10, "decideAfterHours": 1, "metric": "conversion"}},
            "needs a `conversion` goal",
        ),
        ({**ab_content(), "variants": [{"templateId": "a"}]}, "at least 2"),
        ({**ab_content(), "variants": [{"templateId": str(n)} for n in range(6)]}, "at most 5"),
        ({**ab_content(), "abTest": {"testPercentage": 100, "decideAfterHours": 1}}, "less than 100"),
        (content(conversion={"activityKey": "Signed Up", "windowDays": 91}), "less than or equal to 90"),
        (content(colour="red"), "Extra inputs"),
    ],
)
def test_invalid_content_is_refused_with_a_reason(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CampaignContent.model_validate(body)


def test_defaults_are_the_documented_ones() -> None:
    parsed = CampaignContent.model_validate(
        {**ab_content(), "conversion": {"activityKey": "Order Completed"}}
    )
    assert parsed.ab_test is not None
    assert parsed.ab_test.confidence_level == 0.95
    assert parsed.ab_test.min_sample == abtest.DEFAULT_MIN_SAMPLE
    assert parsed.conversion is not None
    assert parsed.conversion.window_days == 7


def test_one_template_is_the_single_variant_a_sent_to_everyone() -> None:
    single = campaign(content(templateVersion=3))
    assert [(v.id, v.template_id, v.template_version) for v in single.arms()] == [("A", "tpl-1", 3)]
    assert single.first_phase == "all"
    assert single.variant_for("p-1", "all") == single.arms()[0]
    assert single.variant_for("p-1", "rest") is None


def test_variants_are_lettered_and_the_test_group_is_the_low_buckets() -> None:
    ab = campaign(ab_content())
    assert [v.id for v in ab.arms()] == ["A", "B"]
    assert ab.first_phase == "test"
    for n in range(300):
        profile = f"p-{n}"
        in_test = abtest.bucket("cmp-1", profile) < 20
        assert (ab.variant_for(profile, "test") is not None) == in_test
        assert ab.variant_for(profile, "rest") is None  # nothing decided yet


def test_after_the_decision_the_rest_get_the_chosen_variant_and_the_test_group_nothing_more() -> None:
    decision = AbDecision(
        metric=AbMetric.CLICK,
        winner="B",
        sent_to_rest="B",
        confidence=0.99,
        p_value=0.01,
        z=2.6,
        confidence_level=0.95,
        reason="",
        decided_at=NOW,
        arms=[],
    )
    ab = campaign(ab_content(), decision=decision.model_dump(by_alias=True), status=CampaignStatus.SENDING)
    for n in range(300):
        profile = f"p-{n}"
        rest = ab.variant_for(profile, "rest")
        if abtest.bucket("cmp-1", profile) < 20:
            assert rest is None
        else:
            assert rest is not None
            assert rest.id == "B"


def test_a_members_request_names_the_campaign_and_person_not_the_variant() -> None:
    ab = campaign(
        ab_content(),
        sentVariants=[
            {"id": "A", "templateId": "tpl-a", "templateVersion": 2, "weight": 1},
            {"id": "B", "templateId": "tpl-b", "templateVersion": 5, "weight": 3},
        ],
    )
    first = ab.send_request("p-9", ab.arms()[0])
    second = ab.send_request("p-9", ab.arms()[1])
    assert first.message_id == second.message_id == message_id_for("campaign", "cmp-1", "p-9")
    assert (second.template_id, second.template_version, second.variant) == ("tpl-b", 5, "B")
    assert group_of(second) == ("campaign", "cmp-1", "B")


def test_the_decision_time_is_start_plus_the_hours() -> None:
    assert campaign(ab_content()).decision_at() == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert campaign(content()).decision_at() is None


def test_report_groups_and_rates() -> None:
    journey = SendRequest.model_validate(
        {
            "messageId": "m",
            "templateId": "t",
            "templateVersion": 1,
            "profileId": "p",
            "journeyId": "j",
            "stepId": "s",
        }
    )
    assert group_of(journey) == ("journey", "j", "s")
    plain = SendRequest.model_validate(
        {"messageId": "m", "templateId": "t", "templateVersion": 1, "profileId": "p"}
    )
    assert group_of(plain) is None
    counters = Counters(sent=200, delivered=180, bounced=20, opened=90, clicked=45, converted=9)
    rates = counters.rates()
    assert rates["deliveryRate"] == 0.9
    assert rates["openRate"] == 0.5
    assert rates["clickRate"] == 0.25
    assert rates["clickToOpenRate"] == 0.5
    assert rates["conversionRate"] == 0.05
    assert Counters().rates()["openRate"] is None
    summed = total({"A": counters, SINGLE_VARIANT + "2": Counters(sent=1)})
    assert summed.count(Metric.SENT) == 201
    assert Metric.CONVERTED.attribute == "convertedAt"
