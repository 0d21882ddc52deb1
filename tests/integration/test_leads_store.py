from datetime import UTC, datetime
from typing import Any

from crm.leads import Lead, LeadOrigin, LeadStatus, handoff_lead_id
from crm.lifecycle import create_lead_once, get_lead
from leadstream.settings import get_settings
from leadstream.store.dynamo import get_item

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _lead(status: LeadStatus = LeadStatus.NEW) -> Lead:
    return Lead(
        lead_id=handoff_lead_id("p-1", 1),
        origin=LeadOrigin.SCORING,
        profile_id="p-1",
        status=status,
        owner_id="rep-1",
        email="ada@example.com",
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_retried_handoff_creates_one_lead(aws: Any) -> None:
    assert create_lead_once(_lead()) is True
    assert create_lead_once(_lead()) is False
    stored = get_lead(handoff_lead_id("p-1", 1))
    assert stored is not None
    assert stored.email == "ada@example.com"


def test_hidden_leads_have_no_sales_index_entry(aws: Any) -> None:
    create_lead_once(_lead(LeadStatus.REJECTED))
    item = get_item(get_settings().main_table, {"pk": f"LEAD#{handoff_lead_id('p-1', 1)}", "sk": "LEAD"})
    assert item is not None
    assert "gsi1pk" not in item
    assert "gsi2pk" not in item
