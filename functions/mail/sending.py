"""Sending one marketing email to one person, exactly once (docs/email.md, "Exactly one email").

For each send request, in order:

1. A final record for the message id exists: a redelivery; nothing to do.
2. A claim exists that is still within its lease: another delivery is sending it right now (or crashed
   a moment ago); fail the item so the queue retries later, when the record is final or the lease is over.
3. Decide: no profile or no address -> skipped; suppressed (`blocks_marketing`) -> skipped; the person
   declined `email` or the request's topic (leadstream.consents) -> skipped; the template does not
   render -> failed. A skip is final and counted once as "skipped" in the email's report.
4. Claim: a new message is claimed and counted against the weekly cap in one transaction (over the cap
   -> skipped); a stale or released claim is taken over by its claim token, and not counted again.
5. SES SendEmail (paced), then the outcome is recorded under the claim token.

SES has no idempotency token, so the window between SES accepting the email and step 5 recording it
cannot be closed by the sender alone. SES's "Send" event (the configuration set publishes it with our
message id header) marks such a claim as sent; a claim that saw neither within the lease
(`EMAIL_SEND_LEASE_SECONDS`, default 10 minutes) is taken to have failed before SES accepted it, and
sent again. Errors that prove SES did not send (an error response, no connection) release the claim at
once; anything ambiguous (a read timeout) leaves it to the lease.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from leadstream import clock
from leadstream.aws import sesv2
from leadstream.consents import EMAIL, allows, topic_purpose
from leadstream.profiles import Profile
from leadstream.store import profiles
from mail.config import EmailSettings
from mail.link_tokens import LinkKeys, LinkSigner
from mail.links import instrument
from mail.mime import build_message
from mail.rendering import RenderError, personalization, render
from mail.reports import group_of
from mail.sends import FINAL_STATUSES, SendRecord, SendRequest, SendStatus, SkipReason
from mail.store import sends, suppression
from mail.store import templates as email_templates
from mail.store.sends import ClaimOutcome
from mail.suppression import Suppression, blocks_marketing, normalize_email
from mail.template_models import EmailTemplate

# SES error codes that mean the message itself will never be accepted; any other error response is
# temporary (throttling, a paused account, a missing configuration set being deployed) and retried.
PERMANENT_SES_ERRORS = frozenset({"MessageRejected", "BadRequestException"})


class Outcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    DUPLICATE = "duplicate"  # a redelivery of a message that already has its outcome


class SendInFlight(Exception):
    """Another delivery of this message holds a live claim: retry later (a batch item failure)."""


class SesTemporaryError(Exception):
    """SES did not accept the message this time (throttled, paused); the claim was released for a retry."""


class SesNotSent(Exception):
    """SES certainly did not send: `permanent` when it never will (the message is refused)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class SenderStore:
    """What sending reads and writes; `dynamo_store()` is the real one."""

    sends_by_id: Callable[[Iterable[str]], dict[str, SendRecord]]
    template_versions: Callable[[Iterable[tuple[str, int]]], dict[tuple[str, int], EmailTemplate]]
    load_profiles: Callable[[Collection[str]], dict[str, Profile]]
    suppressions_of: Callable[[Iterable[str]], dict[str, Suppression]]
    claim: Callable[..., ClaimOutcome]
    reclaim: Callable[..., bool]
    record_outcome: Callable[[SendRecord], bool]
    mark_sent: Callable[..., bool]
    release: Callable[..., bool]
    get_send: Callable[[str], SendRecord | None]


def dynamo_store() -> SenderStore:
    return SenderStore(
        sends_by_id=sends.sends_by_id,
        template_versions=email_templates.versions,
        load_profiles=profiles.load_profiles,
        suppressions_of=suppression.suppressions_of,
        claim=sends.claim,
        reclaim=sends.reclaim,
        record_outcome=sends.record_outcome,
        mark_sent=sends.mark_sent,
        release=sends.release,
        get_send=sends.get_send,
    )


Mailer = Callable[..., str]  # (raw=, from_address=, to_address=, configuration_set=) -> SES message id


def ses_mailer(*, raw: bytes, from_address: str, to_address: str, configuration_set: str | None) -> str:
    """SES v2 SendEmail with the raw message; SesNotSent when SES certainly did not send it."""
    request: dict[str, Any] = {
        "FromEmailAddress": from_address,
        "Destination": {"ToAddresses": [to_address]},
        "Content": {"Raw": {"Data": raw}},
    }
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    try:
        response = sesv2().send_email(**request)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        raise SesNotSent(f"SES: {code}", permanent=code in PERMANENT_SES_ERRORS) from exc
    except (ConnectTimeoutError, EndpointConnectionError) as exc:
        raise SesNotSent(f"SES unreachable: {type(exc).__name__}", permanent=False) from exc
    return str(response["MessageId"])


class Pacer:
    """A token bucket: at most `rate` sends per second from this container (0: unpaced).

    The stack's send rate is split between the sender's concurrent invocations (the SQS event source's
    MaximumConcurrency), so each paces itself to rate / concurrency.
    """

    def __init__(
        self,
        rate: float,
        *,
        # Pacing measures how long this container waited: a duration, not the business clock.
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            self._sleep(start - now)


@dataclass(frozen=True)
class Prefetched:
    """Everything a batch of requests needs, read with one BatchGetItem per kind."""

    sends: dict[str, SendRecord] = field(default_factory=dict)
    templates: dict[tuple[str, int], EmailTemplate] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    suppressions: dict[str, Suppression] = field(default_factory=dict)


def prefetch(requests: Sequence[SendRequest], store: SenderStore) -> Prefetched:
    if not requests:
        return Prefetched()
    sends = store.sends_by_id(request.message_id for request in requests)
    templates = store.template_versions({(r.template_id, r.template_version) for r in requests})
    profiles = store.load_profiles({request.profile_id for request in requests})
    survivors = {p.merged_into for p in profiles.values() if p.merged_into and p.merged_into not in profiles}
    if survivors:
        profiles |= store.load_profiles(survivors)
    emails = {address for request in requests if (address := _address(request, profiles))}
    return Prefetched(
        sends=sends,
        templates=templates,
        profiles=profiles,
        suppressions=store.suppressions_of(emails) if emails else {},
    )


def _profile(request: SendRequest, profiles: dict[str, Profile]) -> Profile | None:
    profile = profiles.get(request.profile_id)
    if profile is not None and profile.merged_into:
        return profiles.get(profile.merged_into, profile)
    return profile


def consent_refusal(request: SendRequest, profile: Profile) -> str | None:
    """The purpose the person declined that this email needs (`email`, or its topic's), if any. Read from
    the profile the batch loaded anyway: honouring consent costs no extra read."""
    needed = [EMAIL] if request.topic_id is None else [EMAIL, topic_purpose(request.topic_id)]
    return next((purpose for purpose in needed if not allows(profile.consents, purpose)), None)


def _refusal(request: SendRequest, profile: Profile, suppression: Suppression | None) -> str | None:
    """Why the person may not get this email (the skip reason), if they may not: suppressed, or a
    declined consent."""
    if blocks_marketing(suppression):
        assert suppression is not None
        return f"{SkipReason.SUPPRESSED.value}:{suppression.first_reason}"
    declined = consent_refusal(request, profile)
    return f"{SkipReason.NO_CONSENT.value}:{declined}" if declined is not None else None


def _address(request: SendRequest, profiles: dict[str, Profile]) -> str | None:
    profile = _profile(request, profiles)
    address = request.email or (profile.email if profile else None)
    return normalize_email(address) if address else None


@dataclass(frozen=True)
class Sender:
    settings: EmailSettings
    keys: LinkKeys
    store: SenderStore
    mailer: Mailer
    pacer: Pacer
    now: Callable[[], datetime] = clock.now

    def send(self, request: SendRequest, batch: Prefetched) -> Outcome:
        existing = batch.sends.get(request.message_id)
        if existing is not None and existing.status in FINAL_STATUSES:
            return Outcome.DUPLICATE
        now = self.now()
        if (
            existing is not None
            and existing.status is SendStatus.SENDING
            and not existing.claim_expired(now, self.settings.send_lease_seconds)
        ):
            raise SendInFlight(f"message {request.message_id} is claimed by another delivery")
        decision = self._decide(request, batch, now)
        if isinstance(decision, tuple):
            status, reason = decision
            return self._finish_unsent(request, existing, status, reason, now)
        token = str(uuid.uuid4())
        if existing is None:
            claimed = self._claim(request, decision, token, now)
            if claimed is not None:
                return claimed
        elif not self.store.reclaim(existing, new_token=token, at=now, email=decision.address):
            raise SendInFlight(f"message {request.message_id} was taken over by another delivery")
        return self._send_claimed(request, decision, token)

    # --- deciding -------------------------------------------------------------------------------------
    def _decide(
        self, request: SendRequest, batch: Prefetched, now: datetime
    ) -> tuple[SendStatus, str] | _Email:
        profile = _profile(request, batch.profiles)
        if profile is None:
            return SendStatus.SKIPPED, SkipReason.NO_PROFILE.value
        address = _address(request, batch.profiles)
        if address is None:
            return SendStatus.SKIPPED, SkipReason.NO_EMAIL.value
        refused = _refusal(request, profile, batch.suppressions.get(address))
        if refused is not None:
            return SendStatus.SKIPPED, refused
        template = batch.templates.get((request.template_id, request.template_version))
        if template is None:
            return SendStatus.FAILED, f"template {request.template_id} v{request.template_version} not found"
        try:
            return self._compose(request, template, profile, address, now)
        except RenderError as exc:
            return SendStatus.FAILED, f"render: {exc.detail}"[:500]

    def _compose(
        self, request: SendRequest, template: EmailTemplate, profile: Profile, address: str, now: datetime
    ) -> _Email:
        from_address, postal_address = self.settings.require_sender()
        signer = LinkSigner(self.settings.require_tracking_base_url(), self.keys)
        context = personalization(
            profile.traits, email=address, unsubscribe_url=signer.unsubscribe_url(request.message_id)
        )
        sender_name = template.from_name or self.settings.from_name
        email = instrument(
            render(template, context),
            signer=signer,
            message_id=request.message_id,
            postal_address=postal_address,
            sender_name=sender_name,
        )
        raw = build_message(
            email,
            message_id=request.message_id,
            from_address=from_address,
            from_name=sender_name,
            to_address=address,
            at=now,
            configuration_set=self.settings.configuration_set,
        )
        return _Email(address=address, from_address=from_address, subject=email.subject, raw=raw)

    # --- recording ------------------------------------------------------------------------------------
    def _finish_unsent(
        self,
        request: SendRequest,
        existing: SendRecord | None,
        status: SendStatus,
        reason: str,
        now: datetime,
    ) -> Outcome:
        if existing is None:
            record = SendRecord.for_request(request, status, now, reason=reason)
            if not self.store.record_outcome(record):
                return self._after_lost_race(request)
        else:
            token = str(uuid.uuid4())
            if not self.store.reclaim(existing, new_token=token, at=now):
                raise SendInFlight(f"message {request.message_id} was taken over by another delivery")
            self.store.release(
                request.message_id, token, status=status, reason=reason, at=now,
                report=group_of(request) if status is SendStatus.SKIPPED else None,
            )  # fmt: skip
        return Outcome.SKIPPED if status is SendStatus.SKIPPED else Outcome.FAILED

    def _claim(self, request: SendRequest, email: _Email, token: str, now: datetime) -> Outcome | None:
        """Claim a new message (None: claimed, go on and send)."""
        record = SendRecord.for_request(
            request,
            SendStatus.SENDING,
            now,
            email=email.address,
            subject=email.subject,
            claimToken=token,
            claimedAt=now,
            attempts=1,
        )
        outcome = self.store.claim(record, weekly_cap=self.settings.weekly_cap)
        if outcome is ClaimOutcome.CLAIMED:
            return None
        if outcome is ClaimOutcome.CAPPED:
            skipped = SendRecord.for_request(
                request, SendStatus.SKIPPED, now, email=email.address, reason=SkipReason.FREQUENCY_CAP.value
            )
            if not self.store.record_outcome(skipped):
                return self._after_lost_race(request)
            return Outcome.SKIPPED
        return self._after_lost_race(request)

    def _after_lost_race(self, request: SendRequest) -> Outcome:
        """Another delivery wrote the record first: done if its outcome is final, else retry later."""
        current = self.store.get_send(request.message_id)
        if current is not None and current.status in FINAL_STATUSES:
            return Outcome.DUPLICATE
        raise SendInFlight(f"message {request.message_id} is claimed by another delivery")

    def _send_claimed(self, request: SendRequest, email: _Email, token: str) -> Outcome:
        self.pacer.wait()
        try:
            ses_message_id = self.mailer(
                raw=email.raw,
                from_address=email.from_address,
                to_address=email.address,
                configuration_set=self.settings.configuration_set,
            )
        except SesNotSent as exc:
            status = SendStatus.FAILED if exc.permanent else SendStatus.RETRY
            self.store.release(request.message_id, token, status=status, reason=exc.reason, at=self.now())
            if exc.permanent:
                return Outcome.FAILED
            raise SesTemporaryError(exc.reason) from exc
        self.store.mark_sent(
            request.message_id,
            token,
            ses_message_id=ses_message_id,
            subject=email.subject,
            at=self.now(),
            report=group_of(request),
        )
        return Outcome.SENT


@dataclass(frozen=True)
class _Email:
    address: str
    from_address: str
    subject: str
    raw: bytes
