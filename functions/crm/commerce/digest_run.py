"""The daily digest run: for each owner, gather the day's items, and send one email, once per day."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from crm.commerce.digest import Digest, DigestItem, Email, Owner, render


class DigestSources(Protocol):
    """Per-owner reads, each an index query of that owner's records."""

    def owners(self) -> Iterable[Owner]: ...

    def tasks_due(self, owner_id: str, today: date) -> list[DigestItem]: ...

    def deals_closing(self, owner_id: str, today: date) -> list[DigestItem]: ...

    def renewals(self, owner_id: str, today: date) -> list[DigestItem]: ...


class DigestOutbox(Protocol):
    def claim(self, owner_id: str, day: date) -> bool:
        """Record that (owner, day) is being sent; False if it was already."""
        ...

    def release(self, owner_id: str, day: date) -> None:
        """Forget a claim whose email was not sent, so a retry of the run sends it."""
        ...

    def send(self, to: str, email: Email) -> str:
        """Send; the provider's message id."""
        ...


@dataclass
class DigestRun:
    sent: dict[str, str] = field(default_factory=dict)  # owner id -> message id
    already_sent: list[str] = field(default_factory=list)
    nothing_to_say: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "sent": len(self.sent),
            "alreadySent": len(self.already_sent),
            "empty": len(self.nothing_to_say),
        }


def build_digest(owner: Owner, today: date, sources: DigestSources) -> Digest:
    return Digest(
        owner=owner,
        day=today,
        tasks_due=sources.tasks_due(owner.user_id, today),
        deals_closing=sources.deals_closing(owner.user_id, today),
        renewals=sources.renewals(owner.user_id, today),
    )


def run_digests(*, today: date, sources: DigestSources, outbox: DigestOutbox) -> DigestRun:
    run = DigestRun()
    for owner in sources.owners():
        digest = build_digest(owner, today, sources)
        if digest.is_empty:
            run.nothing_to_say.append(owner.user_id)
            continue
        if not outbox.claim(owner.user_id, today):
            run.already_sent.append(owner.user_id)
            continue
        try:
            run.sent[owner.user_id] = outbox.send(owner.email, render(digest))
        except BaseException:
            outbox.release(owner.user_id, today)
            raise
    return run
