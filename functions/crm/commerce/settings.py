"""Commerce configuration, parsed once from the environment that template.yaml sets per function.

Kept apart from the shared `Settings` so that only the functions that need a value carry it; each value
is checked by the function that uses it at cold start (`require_*`), so a missing one fails there.
"""

from __future__ import annotations

from pydantic import Field

from crm.commerce.contracts import DEFAULT_RENEWAL_LEAD_DAYS, MAX_RENEWAL_LEAD_DAYS
from leadstream.models import Model
from leadstream.settings import ConfigurationError, load


class CommerceSettings(Model, frozen=True):
    attachments_bucket: str | None = Field(alias="ATTACHMENTS_BUCKET", default=None, min_length=3)
    # Days before a contract's end that its renewal deal is created, unless the contract sets its own.
    renewal_lead_days: int = Field(
        alias="RENEWAL_LEAD_DAYS", default=DEFAULT_RENEWAL_LEAD_DAYS, ge=1, le=MAX_RENEWAL_LEAD_DAYS
    )
    # Months of contract timers, before the current one, that the daily renewal job looks at: how long
    # the job may have been failing and still catch up.
    renewal_lookback_months: int = Field(alias="RENEWAL_LOOKBACK_MONTHS", default=3, ge=0, le=24)
    user_pool_id: str | None = Field(alias="USER_POOL_ID", default=None, min_length=1)
    digest_from: str | None = Field(alias="DIGEST_FROM_ADDRESS", default=None, min_length=3)

    def require_bucket(self) -> str:
        return _required(self.attachments_bucket, "ATTACHMENTS_BUCKET")

    def require_user_pool(self) -> str:
        return _required(self.user_pool_id, "USER_POOL_ID")

    def require_digest_sender(self) -> str:
        return _required(self.digest_from, "DIGEST_FROM_ADDRESS")


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ConfigurationError(f"invalid Leadstream commerce configuration: {name} is not set")
    return value


def get_commerce_settings() -> CommerceSettings:
    return load(CommerceSettings)
