"""Campaign lifecycle: create, edit, delete, send (now or scheduled), cancel, the A/B decision, the report.

Starting a campaign is a status change (draft/scheduled → sending, or testing with an A/B test phase)
saved on the version it was read at, followed by steps that are each safe to repeat: publish the
conversion goal (a Put of the same item), schedule the decision timer (one schedule per key), and put
page 0 of the first phase on the FanoutQueue (the fan-out runs each page once: campaigns.fanout). A
retried request or a repeated timer finds the campaign started and repeats only those steps (`resume`),
so nothing is lost after a crash between them and nothing runs twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from audience.definitions import is_live
from campaigns import abtest
from campaigns import store as campaign_store
from campaigns.config import campaign_settings
from campaigns.models import (
    EDITABLE,
    STARTED,
    AbDecision,
    AbTestDecided,
    AbTestPending,
    ArmResult,
    Campaign,
    CampaignContent,
    CampaignReport,
    CampaignStatus,
    FanoutPage,
    SendBody,
    Variant,
    VariantReport,
)
from leadstream import clock, keys, timers
from leadstream.aws import sqs
from leadstream.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from leadstream.timers import Timer
from mail import templates as email_templates
from mail import topics
from mail.outcomes import report_for
from mail.reports import Counters, ReportKind, total
from mail.template_models import EmailTemplate
from mail.topic_models import Topic

# A start must be at least this far ahead (a time in the past, or now, is "send now").
MIN_SCHEDULE_AHEAD = timedelta(minutes=1)
# Conflicting writers (API, timer, fan-out) re-read and retry this many times before giving up (a 409
# or a retried message).
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class CampaignStore:
    get: Callable[[str], Campaign | None]
    save: Callable[..., bool]
    page: Callable[..., tuple[list[Campaign], dict[str, Any] | None]]
    template: Callable[[str], EmailTemplate | None]
    template_version: Callable[[str, int], EmailTemplate | None]
    report_for: Callable[[ReportKind, str], dict[str, Counters]]
    put_conversion_goal: Callable[..., None]
    segment_exists: Callable[[str], bool]
    enqueue_page: Callable[[FanoutPage], None]
    schedule: Callable[[Timer], None]
    cancel_timer: Callable[[str, str], None]
    topic: Callable[[str], Topic | None]


def dynamo_store() -> CampaignStore:
    return CampaignStore(
        get=campaign_store.get_campaign,
        save=campaign_store.save,
        page=campaign_store.list_campaigns,
        template=email_templates.get_template,
        template_version=email_templates.get_version,
        report_for=report_for,
        put_conversion_goal=campaign_store.put_conversion_goal,
        segment_exists=is_live,
        enqueue_page=enqueue_page,
        schedule=timers.schedule,
        topic=topics.find_topic,
        cancel_timer=timers.cancel,  # type: ignore[arg-type]
    )


def enqueue_page(page: FanoutPage) -> None:
    sqs().send_message(
        QueueUrl=campaign_settings().require_fanout_queue_url(),
        MessageBody=page.model_dump_json(by_alias=True),
    )


def start_timer_key(campaign_id: str) -> str:
    return f"{campaign_id}:start"


def decide_timer_key(campaign_id: str) -> str:
    return f"{campaign_id}:decide"


@dataclass(frozen=True)
class Campaigns:
    store: CampaignStore
    now: Callable[[], datetime] = clock.now

    # --- the API -------------------------------------------------------------------------------------
    def create(self, content: CampaignContent, *, user: str, new_id: str | None = None) -> Campaign:
        """A draft; its id is made from `new_id` (a UUID; a create retried with the same Idempotency-Key
        has the same one, and then finds the campaign its first try stored)."""
        self._check_references(content)
        now = self.now()
        campaign = Campaign.model_validate(
            {
                **content.model_dump(by_alias=True),
                "campaignId": keys.short_id("cmp", new_id),
                "createdAt": now,
                "updatedAt": now,
                "createdBy": user,
                "updatedBy": user,
            }
        )
        if self.store.save(campaign, previous_version=None):
            return campaign
        earlier = self.store.get(campaign.campaign_id)
        if earlier is None or earlier.created_by != user:
            raise Conflict(f"Campaign id {campaign.campaign_id} is taken; retry with a new Idempotency-Key.")
        return earlier

    def get(self, campaign_id: str) -> Campaign:
        campaign = self.store.get(campaign_id)
        if campaign is None or campaign.deleted:
            raise NotFound(f"There is no campaign {campaign_id!r}.")
        return campaign

    def update(
        self, campaign_id: str, content: CampaignContent, *, check_version: Callable[[int], None], user: str
    ) -> Campaign:
        current = self.get(campaign_id)
        check_version(current.version)
        self._check_editable(current, "changed")
        self._check_references(content)
        changed = Campaign.model_validate(
            {
                **current.model_dump(by_alias=True, exclude=set(CampaignContent.model_fields)),
                **content.model_dump(by_alias=True),
            }
        )
        return self._save(current, changed, user=user)

    def delete(self, campaign_id: str, *, check_version: Callable[[int], None], user: str) -> None:
        current = self.get(campaign_id)
        check_version(current.version)
        if current.status not in EDITABLE | {CampaignStatus.CANCELLED}:
            raise Conflict(
                f"Campaign {campaign_id!r} is {current.status}: a started campaign is kept for its report "
                "(cancel it to stop sending)."
            )
        self._save(current, current.model_copy(update={"deleted": True}), user=user)
        self.store.cancel_timer("campaign", start_timer_key(campaign_id))

    def send(
        self,
        campaign_id: str,
        body: SendBody,
        *,
        user: str,
        check_version: Callable[[int], None] | None = None,
    ) -> Campaign:
        """Send now (`at` missing or not in the future) or schedule. Repeating it is safe: a started
        campaign resumes its idempotent steps (whatever `check_version` says: a retry of a send that
        started it must finish it), a scheduled one is rescheduled."""
        for _ in range(MAX_ATTEMPTS):
            current = self.get(campaign_id)
            if current.status in STARTED:
                self.resume(current)
                return current
            if check_version is not None:
                check_version(current.version)
            self._check_editable(current, "sent")
            now = self.now()
            if body.at is not None and body.at >= now + MIN_SCHEDULE_AHEAD:
                result = self._schedule(current, body.at, user=user)
            else:
                result = self._start(current, user=user)
            if result is not None:
                return result
        raise Conflict(f"Campaign {campaign_id!r} kept changing while it was being sent; try again.")

    def cancel(
        self, campaign_id: str, *, user: str, check_version: Callable[[int], None] | None = None
    ) -> Campaign:
        """Stop a scheduled or started campaign; cancelling a cancelled one again changes nothing."""
        for _ in range(MAX_ATTEMPTS):
            current = self.get(campaign_id)
            if current.status is CampaignStatus.CANCELLED:
                return current
            if check_version is not None:
                check_version(current.version)
            if current.status not in {CampaignStatus.SCHEDULED} | STARTED:
                raise Conflict(f"Campaign {campaign_id!r} is {current.status}: there is nothing to cancel.")
            cancelled = current.model_copy(
                update={"status": CampaignStatus.CANCELLED, "cancelled_at": self.now()}
            )
            if self.store.save(self._next(current, cancelled, user), previous_version=current.version):
                self.store.cancel_timer("campaign", start_timer_key(campaign_id))
                self.store.cancel_timer("campaign", decide_timer_key(campaign_id))
                return self._next(current, cancelled, user)
        raise Conflict(f"Campaign {campaign_id!r} kept changing while it was being cancelled; try again.")

    def report(self, campaign_id: str) -> CampaignReport:
        campaign = self.get(campaign_id)
        groups = self.store.report_for("campaign", campaign_id)
        variants = [
            VariantReport.model_validate(
                {
                    "variant": variant.id,
                    "templateId": variant.template_id,
                    "templateVersion": variant.template_version,
                    **groups.get(variant.id, Counters()).report().model_dump(),
                }
            )
            for variant in campaign.arms()
        ]
        return CampaignReport(
            campaign_id=campaign_id,
            status=campaign.status,
            variants=variants,
            total=total(groups).report(),
            ab_test=self._ab_summary(campaign) if campaign.ab_test is not None else None,
        )

    # --- timers --------------------------------------------------------------------------------------
    def on_timer(self, timer: Timer) -> None:
        """A scheduled start or an A/B decision came due; stale and repeated firings change nothing."""
        campaign = self.store.get(str(timer.payload.get("campaignId", "")))
        if campaign is None or campaign.deleted:
            return
        action = timer.payload.get("action")
        if action == "start":
            self._start_scheduled(campaign, timer)
        elif action == "decide":
            self._decide(campaign)

    def _start_scheduled(self, campaign: Campaign, timer: Timer) -> None:
        for _ in range(MAX_ATTEMPTS):
            if campaign.status in STARTED:
                self.resume(campaign)
                return
            if campaign.status is not CampaignStatus.SCHEDULED or campaign.scheduled_at != timer.at:
                return  # cancelled, edited back, or rescheduled: this firing is stale
            try:
                if self._start(campaign, user="scheduler") is not None:
                    return
            except (InvalidInput, Conflict) as exc:  # e.g. the template was archived since
                failed = campaign.model_copy(
                    update={
                        "status": CampaignStatus.CANCELLED,
                        "cancelled_at": self.now(),
                        "error": exc.detail,
                    }
                )
                if self.store.save(
                    self._next(campaign, failed, "scheduler"), previous_version=campaign.version
                ):
                    return
            campaign = self.get(campaign.campaign_id)
        raise RuntimeError(f"campaign {campaign.campaign_id} kept changing while starting")  # retried

    def _decide(self, campaign: Campaign) -> None:
        for _ in range(MAX_ATTEMPTS):
            if campaign.status is CampaignStatus.SENDING and campaign.decision is not None:
                self.store.enqueue_page(FanoutPage(campaign_id=campaign.campaign_id, phase="rest", page=0))
                return
            if campaign.status is not CampaignStatus.TESTING or campaign.ab_test is None:
                return  # cancelled, or already finished: nothing to decide
            decided = campaign.model_copy(
                update={"status": CampaignStatus.SENDING, "decision": self.decision(campaign)}
            )
            if self.store.save(self._next(campaign, decided, "scheduler"), previous_version=campaign.version):
                self.store.enqueue_page(FanoutPage(campaign_id=campaign.campaign_id, phase="rest", page=0))
                return
            campaign = self.get(campaign.campaign_id)
        raise RuntimeError(f"campaign {campaign.campaign_id} kept changing while deciding")

    def decision(self, campaign: Campaign) -> AbDecision:
        """The A/B decision from the report counters as they are now."""
        assert campaign.ab_test is not None
        test = campaign.ab_test
        groups = self.store.report_for("campaign", campaign.campaign_id)
        arms = [
            abtest.Arm(
                variant=variant.id,
                successes=groups.get(variant.id, Counters()).count(test.metric.counter),
                trials=groups.get(variant.id, Counters()).delivered,
            )
            for variant in campaign.arms()
        ]
        decided = abtest.decide(arms, level=test.confidence_level, min_sample=test.min_sample)
        return AbDecision(
            metric=test.metric,
            winner=decided.winner,
            sent_to_rest=decided.chosen,
            confidence=_rounded(decided.confidence),
            p_value=_rounded(decided.p_value),
            z=_rounded(decided.z),
            confidence_level=test.confidence_level,
            reason=decided.reason,
            decided_at=self.now(),
            arms=[
                ArmResult(variant=arm.variant, successes=arm.successes, trials=arm.trials, rate=arm.rate)
                for arm in arms
            ],
        )

    # --- the fan-out's end ---------------------------------------------------------------------------
    def finish_phase(self, campaign_id: str, phase: str) -> None:
        """The last page of a phase was enqueued: the whole send (all, rest) makes the campaign sent; the
        test phase leaves it testing until the decision."""
        if phase == "test":
            return
        for _ in range(MAX_ATTEMPTS):
            campaign = self.get(campaign_id)
            if campaign.status is not CampaignStatus.SENDING:
                return
            sent = campaign.model_copy(update={"status": CampaignStatus.SENT, "finished_at": self.now()})
            if self.store.save(self._next(campaign, sent, "fanout"), previous_version=campaign.version):
                return
        raise RuntimeError(f"campaign {campaign_id} kept changing while finishing")

    # --- starting ------------------------------------------------------------------------------------
    def _schedule(self, current: Campaign, at: datetime, *, user: str) -> Campaign | None:
        self._frozen_variants(current)  # fail now, not at the scheduled time, when a template is gone
        scheduled = self._next(
            current,
            current.model_copy(update={"status": CampaignStatus.SCHEDULED, "scheduled_at": at}),
            user,
        )
        if not self.store.save(scheduled, previous_version=current.version):
            return None
        self.store.schedule(
            Timer(
                kind="campaign",
                key=start_timer_key(current.campaign_id),
                at=at,
                payload={"campaignId": current.campaign_id, "action": "start"},
            )
        )
        return scheduled

    def _start(self, current: Campaign, *, user: str) -> Campaign | None:
        status = CampaignStatus.TESTING if current.ab_test is not None else CampaignStatus.SENDING
        started = self._next(
            current,
            current.model_copy(
                update={
                    "status": status,
                    "started_at": self.now(),
                    "sent_variants": self._frozen_variants(current),
                }
            ),
            user,
        )
        if not self.store.save(started, previous_version=current.version):
            return None
        self.store.cancel_timer("campaign", start_timer_key(current.campaign_id))
        self.resume(started)
        return started

    def resume(self, campaign: Campaign) -> None:
        """The steps after the start, each safe to repeat."""
        assert campaign.started_at is not None
        if campaign.conversion is not None:
            hours = campaign.ab_test.decide_after_hours if campaign.ab_test else 0
            # The rest is sent after the decision; its emails convert up to the window after that.
            until = campaign.started_at + timedelta(hours=hours, days=campaign.conversion.window_days + 1)
            self.store.put_conversion_goal(campaign, until=until)
        decide_at = campaign.decision_at()
        if decide_at is not None and campaign.decision is None:
            self.store.schedule(
                Timer(
                    kind="campaign",
                    key=decide_timer_key(campaign.campaign_id),
                    at=decide_at,
                    payload={"campaignId": campaign.campaign_id, "action": "decide"},
                )
            )
        self.store.enqueue_page(
            FanoutPage(campaign_id=campaign.campaign_id, phase=campaign.first_phase, page=0)
        )
        if campaign.decision is not None:
            self.store.enqueue_page(FanoutPage(campaign_id=campaign.campaign_id, phase="rest", page=0))

    def _frozen_variants(self, campaign: Campaign) -> list[Variant]:
        """The variants with their template versions fixed (the latest when none was named)."""
        frozen: list[Variant] = []
        for variant in campaign.arms():
            template = self.store.template(variant.template_id)
            if template is None or template.archived:
                raise Conflict(
                    f"Template {variant.template_id!r} of variant {variant.id} is missing or archived; "
                    "change the campaign to use a live template."
                )
            version = variant.template_version or template.version
            frozen.append(variant.model_copy(update={"template_version": version}))
        return frozen

    # --- helpers -------------------------------------------------------------------------------------
    def _check_references(self, content: CampaignContent) -> None:
        wanted: list[tuple[str, str, int | None]] = (
            [(f"variants.{i}", v.template_id, v.template_version) for i, v in enumerate(content.variants)]
            if content.variants is not None
            else [("templateId", content.template_id or "", content.template_version)]
        )
        errors = []
        for field, template_id, version in wanted:
            template = (
                self.store.template_version(template_id, version)
                if version is not None
                else self.store.template(template_id)
            )
            if template is None or (version is None and template.archived):
                which = f"version {version} of " if version is not None else ""
                errors.append({"field": field, "message": f"there is no {which}template {template_id!r}"})
        if not self.store.segment_exists(content.segment_id):
            errors.append({"field": "segmentId", "message": f"there is no segment {content.segment_id!r}"})
        if content.topic_id is not None:
            topic = self.store.topic(content.topic_id)
            if topic is None or topic.archived:
                state = "no" if topic is None else "an archived"
                errors.append({"field": "topicId", "message": f"there is {state} topic {content.topic_id!r}"})
        if errors:
            raise InvalidInput(
                "The campaign names a segment, templates or a topic that do not exist.", errors=errors
            )

    def _check_editable(self, current: Campaign, what: str) -> None:
        if current.status not in EDITABLE:
            raise Conflict(
                f"Campaign {current.campaign_id!r} is {current.status}; it can be {what} only while "
                "draft or scheduled."
            )

    def _next(self, current: Campaign, changed: Campaign, user: str) -> Campaign:
        return changed.model_copy(
            update={"version": current.version + 1, "updated_at": self.now(), "updated_by": user}
        )

    def _save(self, current: Campaign, changed: Campaign, *, user: str) -> Campaign:
        saved = self._next(current, changed, user)
        if not self.store.save(saved, previous_version=current.version):
            raise PreconditionFailed(
                f"Campaign {current.campaign_id!r} was changed meanwhile. GET it and apply your change again."
            )
        return saved

    def _ab_summary(self, campaign: Campaign) -> AbTestDecided | AbTestPending:
        assert campaign.ab_test is not None
        if campaign.decision is not None:
            return AbTestDecided.model_validate(campaign.decision.model_dump())
        return AbTestPending(metric=campaign.ab_test.metric, decide_at=campaign.decision_at())


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def campaigns() -> Campaigns:
    return Campaigns(store=dynamo_store())
