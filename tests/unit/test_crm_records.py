"""CRM record logic without AWS: field-level diffs, JSON merge patch, If-Match, list queries, forecasts."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.api.framework import list_query
from crm.forecast import ForecastQuery, Period, forecast, period_of
from crm.records import FieldChange, diff, merge_patch
from crm.resources.deals import DEAL, Deal, DealQuery
from crm.resources.pipelines import ForecastCategory, StageOutcome
from leadstream.api import check_if_match
from leadstream.auth import Principal, Role
from leadstream.errors import PreconditionFailed, PreconditionRequired

REP = Principal(user_id="rep-1", username="rep", roles=frozenset({Role.SALES}))
# Stored documents hold no nulls (a missing field is absent), so neither do these.
json_values = st.recursive(
    st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
documents = st.dictionaries(st.sampled_from(["name", "phone", "customFields", "address"]), json_values)
# Two independent documents are almost never equal: half the time the second is the first, as an equal copy
# or with some fields rewritten (perhaps to what they were), so both sides of "exactly when" are tried.
before_and_after = documents.flatmap(
    lambda before: st.tuples(
        st.just(before),
        st.just(copy.deepcopy(before)) | documents.map(lambda edit: {**before, **edit}) | documents,
    )
)


def test_a_diff_names_each_changed_field_and_each_changed_key_of_a_map() -> None:
    before = {"name": "Acme", "phone": "1", "customFields": {"tier": 1, "region": "EU"}, "version": 1}
    after = {"name": "Acme", "customFields": {"tier": 2, "region": "EU", "new": True}, "version": 2}

    assert diff(before, after) == [
        FieldChange(field="customFields.new", before=None, after=True),
        FieldChange(field="customFields.tier", before=1, after=2),
        FieldChange(field="phone", before="1", after=None),
    ]


def test_a_created_record_diffs_against_nothing() -> None:
    assert diff(None, {"name": "Acme", "updatedAt": "t"}) == [
        FieldChange(field="name", before=None, after="Acme")
    ]


@given(before_and_after)
def test_a_diff_is_empty_exactly_when_nothing_changed(
    documents: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    before, after = documents
    assert (diff(before, after) == []) == (before == after)


def test_merge_patch_follows_rfc_7396() -> None:
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"}, "tags": ["a", "b"]}
    patch = {"title": "Hello!", "phoneNumber": "+01-123", "author": {"familyName": None}, "tags": ["c"]}

    assert merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["c"],
        "phoneNumber": "+01-123",
    }


@given(documents)
def test_an_empty_patch_changes_nothing_and_patching_a_document_onto_itself_keeps_it(
    document: dict[str, Any],
) -> None:
    assert merge_patch(document, {}) == document
    without_nulls = {name: value for name, value in document.items() if value is not None}
    assert merge_patch(without_nulls, {}) == without_nulls


@pytest.mark.parametrize("header", ['"3"', "3", '"2", "3"', "*", ' "3" '])
def test_if_match_accepts_the_current_version(header: str) -> None:
    check_if_match(header, 3)


@pytest.mark.parametrize("header", ['"2"', 'W/"3"', "garbage", '""'])
def test_if_match_refuses_anything_else(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        check_if_match(header, 3)


@pytest.mark.parametrize("header", [None, "", "  "])
def test_if_match_is_required(header: str | None) -> None:
    with pytest.raises(PreconditionRequired):
        check_if_match(header, 3)


def test_a_list_query_picks_the_narrowest_index_and_keeps_the_rest_as_filters() -> None:
    params = DealQuery.model_validate(
        {
            "ownerId": "me",
            "accountId": "acc-1",
            "stageId": "demo",
            "closeFrom": "2026-03-01",
            "closeTo": "2026-03-31",
        }
    )

    query = list_query(DEAL, params, REP)

    assert (query.index, query.partition) == ("GSI3", "ACCOUNT#acc-1#DEALS")
    assert dict(query.filters) == {"stageId": "demo", "ownerId": "rep-1"}
    assert (query.sort_from, query.sort_to) == ("2026-03-01", "2026-03-31")


def _deal(**fields: Any) -> Deal:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    defaults: dict[str, Any] = {
        "deal_id": "d",
        "name": "Deal",
        "owner_id": "rep-1",
        "currency": "EUR",
        "created_at": moment,
        "updated_at": moment,
        "forecast_category": ForecastCategory.PIPELINE,
        "probability": 50,
    }
    return Deal.model_validate({**defaults, **fields})


@pytest.mark.parametrize(
    ("day", "period", "label"),
    [
        (date(2026, 1, 1), Period.QUARTER, "2026-Q1"),
        (date(2026, 3, 31), Period.QUARTER, "2026-Q1"),
        (date(2026, 4, 1), Period.QUARTER, "2026-Q2"),
        (date(2026, 12, 31), Period.QUARTER, "2026-Q4"),
        (date(2026, 7, 4), Period.MONTH, "2026-07"),
    ],
)
def test_periods(day: date, period: Period, label: str) -> None:
    assert period_of(day, period) == label


def test_weighted_sums_are_exact_and_rounded_once_per_currency() -> None:
    deals = [
        _deal(amount=Decimal("0.01"), close_date=date(2026, 2, 1), probability=50),
        _deal(amount=Decimal("0.01"), close_date=date(2026, 2, 2), probability=50),
        _deal(amount=Decimal("100"), currency="JPY", close_date=date(2026, 2, 3), probability=33),
    ]

    result = forecast(deals, ForecastQuery(close_from=date(2026, 1, 1), close_to=date(2026, 12, 31)))

    sums = {row.currency: (row.amount, row.weighted_amount) for row in result.rows}
    # Two half cents make one cent: rounding each deal first would give 0.02 or 0.00.
    assert sums == {"EUR": (Decimal("0.02"), Decimal("0.01")), "JPY": (Decimal("100"), Decimal("33"))}


def test_win_rate_counts_closed_deals_only() -> None:
    deals = [
        _deal(outcome=StageOutcome.WON, close_date=date(2026, 5, 1)),
        _deal(outcome=StageOutcome.WON, close_date=date(2026, 5, 2)),
        _deal(outcome=StageOutcome.LOST, close_date=date(2026, 5, 3)),
        _deal(close_date=date(2026, 5, 4)),
    ]

    result = forecast(
        deals, ForecastQuery(period=Period.MONTH, close_from=date(2026, 5, 1), close_to=date(2026, 5, 31))
    )

    overall = next(rate for rate in result.win_rates if rate.owner_id is None)
    assert (overall.won, overall.lost, overall.win_rate) == (2, 1, 0.6667)
