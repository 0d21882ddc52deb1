"""What the renewal job reads and writes besides timers: contracts, and renewal deals (as the deals
resource makes them, so a renewal deal is a deal like any other: pipeline, stage, history).

It sits above crm.commerce and crm.resources because it needs both: the renewal rules are commerce's,
the record types and the deals resource are the resources'."""

from __future__ import annotations

from crm.commerce.contracts import Contract, RenewalDeal
from crm.records import SYSTEM
from crm.resources.contracts import CONTRACT
from crm.resources.deals import DEAL, DEALS, DealFields
from crm.store import records as store
from leadstream.auth import Principal, Role
from leadstream.errors import Conflict

# The job acts as the system: deals it creates say createdBy "system".
RENEWAL_JOB = Principal(user_id=SYSTEM.user_id, username="renewals", roles=frozenset({Role.ADMIN}))


class RecordContracts:
    def get(self, contract_id: str) -> Contract | None:
        found: Contract | None = store.get_record(CONTRACT, contract_id)
        return found

    def save(self, before: Contract, after: Contract, action: str) -> Contract:
        stored, _ = store.update_record(CONTRACT, before, after, SYSTEM, action=action)
        return stored


class RecordDeals:
    def create_once(self, deal: RenewalDeal) -> bool:
        if store.get_record(DEAL, deal.deal_id) is not None:
            return False
        body = DealFields.model_validate(
            {
                "name": deal.name,
                "accountId": deal.account_id,
                "contactId": deal.contact_id,
                "amount": str(deal.amount),
                "currency": deal.currency,
                "closeDate": deal.close_date.isoformat(),
                "ownerId": deal.owner_id,
                "description": f"Renews contract {deal.renewal_of}, which ends on {deal.close_date}.",
                "customFields": {"renewalOf": deal.renewal_of},
            }
        )
        record = DEALS.new(body, RENEWAL_JOB, deal.deal_id)
        try:
            store.create_record(DEAL, record, RENEWAL_JOB, action="created-for-renewal")
        except Conflict:
            # Another run made it between our read and our write (or it existed and was deleted since:
            # a rep who deleted a renewal deal decided against it; it is not made again).
            return False
        return True
