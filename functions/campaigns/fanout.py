"""FanoutFunction: a campaign's members, one page per message, into send requests on EmailSendQueue.

Each FanoutQueue message names one page of one phase (campaigns.models.FanoutPage). Handling it:
1. reads the campaign (a cancelled one stops the chain here);
2. reads ONE page of segment members (`audience.definitions.member_ids_page`, one Query);
3. puts a SendRequest for each member in this phase on EmailSendQueue, 10 per SendMessageBatch;
4. puts the next page's message on FanoutQueue, or, after the last page, ends the phase.
Memory is one page, whatever the segment's size.

Exactly once per page: the page is run through Powertools idempotency keyed by (campaign, phase, page
number) on the IdempotencyTable. A redelivered page message, or a second copy of page n (a start that was
retried), finds the page's record COMPLETED and does nothing, so no second chain starts; a copy arriving
while the first still runs finds it INPROGRESS, fails, and comes back later to find it COMPLETED. If the
function dies mid-page, the INPROGRESS record expires with the invocation and the redelivery runs the
page again: its send requests are the same message ids (the sender sends each once), and its next-page
message is page n+1, which runs once. docs/campaigns.md argues this in full.

The Lambda entry point is handlers/fanout.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from audience.definitions import member_ids_page
from campaigns.config import DEFAULT_PAGE_SIZE, campaign_settings
from campaigns.launch import campaigns
from campaigns.models import STARTED, FanoutPage
from leadstream.aws import sqs
from leadstream.idempotency import run_once
from mail.config import get_email_settings
from mail.sends import SendRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from campaigns.launch import Campaigns

metrics = Metrics()

SQS_BATCH = 10
MAX_BATCH_ROUNDS = 5
# A completed page is remembered longer than any of its messages can live (FanoutQueue keeps 4 days).
PAGE_RECORD_SECONDS = 7 * 24 * 3600


class EnqueueFailed(RuntimeError):
    """SQS kept refusing some send requests: the page fails and is run again (the same message ids)."""


@dataclass(frozen=True)
class Fanout:
    campaigns: Campaigns
    member_ids_page: Callable[..., tuple[list[str], str | None]]
    enqueue_sends: Callable[[Sequence[SendRequest]], None]
    limit: int = DEFAULT_PAGE_SIZE

    def run_page(self, page: FanoutPage) -> dict[str, Any]:
        """One page: its members' send requests, then the next page (or the phase's end)."""
        campaign = self.campaigns.store.get(page.campaign_id)
        if campaign is None or campaign.status not in STARTED:
            return {"stopped": campaign.status.value if campaign else "missing"}
        if page.phase == "rest" and campaign.decision is None:
            return {"stopped": "undecided"}
        member_ids, next_cursor = self.member_ids_page(
            campaign.segment_id, limit=self.limit, start=page.cursor
        )
        requests = [
            campaign.send_request(profile_id, variant)
            for profile_id in member_ids
            if (variant := campaign.variant_for(profile_id, page.phase)) is not None
        ]
        self.enqueue_sends(requests)
        if next_cursor:
            following = FanoutPage(
                campaign_id=page.campaign_id, phase=page.phase, page=page.page + 1, cursor=next_cursor
            )
            self.campaigns.store.enqueue_page(following)
        else:
            self.campaigns.finish_phase(page.campaign_id, page.phase)
        return {"members": len(member_ids), "enqueued": len(requests), "last": not next_cursor}


def enqueue_sends(requests: Sequence[SendRequest]) -> None:
    """Send requests onto EmailSendQueue, 10 per SendMessageBatch, retrying entries SQS refused."""
    queue_url = get_email_settings().require_send_queue_url()
    client = sqs()
    for start in range(0, len(requests), SQS_BATCH):
        entries = [
            {"Id": str(index), "MessageBody": request.model_dump_json(by_alias=True, exclude_none=True)}
            for index, request in enumerate(requests[start : start + SQS_BATCH])
        ]
        for _ in range(MAX_BATCH_ROUNDS):
            response = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
            failed = {entry["Id"] for entry in response.get("Failed", [])}
            entries = [entry for entry in entries if entry["Id"] in failed]
            if not entries:
                break
        else:
            raise EnqueueFailed(f"SQS refused {len(entries)} send requests")


def fanout() -> Fanout:
    return Fanout(
        campaigns=campaigns(),
        member_ids_page=member_ids_page,
        enqueue_sends=enqueue_sends,
        limit=campaign_settings().fanout_page_size,
    )


def run_page_once(
    page: FanoutPage, context: LambdaContext | None, runner: Fanout | None = None
) -> dict[str, Any]:
    """`run_page` at most once per (campaign, phase, page): Powertools idempotency on IdempotencyTable."""
    active = runner or fanout()

    def once(message: dict[str, Any]) -> dict[str, Any]:
        result = active.run_page(FanoutPage.model_validate(message))
        # Counted here, where the page really runs (a repeat returns the stored result).
        metrics.add_metric(name="FanoutSendRequests", unit=MetricUnit.Count, value=result.get("enqueued", 0))
        return result

    return run_once(
        once,
        page.model_dump(by_alias=True),
        use="campaign-fanout",
        key_paths="[campaignId, phase, page]",
        expires_after_seconds=PAGE_RECORD_SECONDS,
        context=context,  # an interrupted page expires with its invocation
    )
