"""Campaign configuration, parsed once from the environment that template.yaml sets.

The fan-out queue's URL is needed by whatever starts a campaign (the marketing API, the timer function);
the page size only by the fan-out, which checks it at cold start.
"""

from __future__ import annotations

from pydantic import Field

from leadstream.models import Model
from leadstream.settings import ConfigurationError, load

DEFAULT_PAGE_SIZE = 1000  # one Query returns at most 1 MB: ~1000 member keys of ~100 bytes fit


class CampaignSettings(Model, frozen=True):
    # Campaign starts and A/B decisions put the first page of a fan-out here (docs/campaigns.md).
    fanout_queue_url: str | None = Field(alias="FANOUT_QUEUE_URL", default=None, min_length=1)
    # Segment members per fan-out page: larger pages mean fewer invocations and more memory per page.
    fanout_page_size: int = Field(alias="FANOUT_PAGE_SIZE", default=DEFAULT_PAGE_SIZE, ge=1)

    def require_fanout_queue_url(self) -> str:
        if not self.fanout_queue_url:
            raise ConfigurationError("invalid Leadstream campaign configuration: FANOUT_QUEUE_URL is not set")
        return self.fanout_queue_url


def campaign_settings() -> CampaignSettings:
    return load(CampaignSettings)
