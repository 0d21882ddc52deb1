"""A copy of moto's whole in-memory state, put back in a few milliseconds.

Creating the template's resources through boto3 costs a few hundred milliseconds, and every test needs
them. So the `aws` fixture creates them once per test process, takes a `MotoSnapshot`, and before each
test restores it into a freshly reset moto: every service holds exactly what creating the resources left
(empty tables and streams, empty queues, no sent email, no schedules, no users, no objects, the secrets'
first values) and nothing an earlier test added, changed or deleted.
"""

from __future__ import annotations

import copy
import copyreg
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.core.base_backend import BackendDict

# A lock is never state: a copy gets a new, unlocked one (deepcopy cannot copy a lock). A Condition holds
# its lock's bound methods, so it is made anew too, never copied field by field.
_LOCK_TYPES: tuple[Any, ...] = (type(threading.Lock()), type(threading.RLock()), threading.Condition)


@contextmanager
def _locks_made_anew() -> Iterator[None]:
    saved = {kind: copyreg.dispatch_table.get(kind) for kind in _LOCK_TYPES}
    for kind in _LOCK_TYPES:
        copyreg.dispatch_table[kind] = lambda _lock, kind=kind: (kind, ())
    try:
        yield
    finally:
        for kind, reductor in saved.items():
            if reductor is None:
                del copyreg.dispatch_table[kind]
            else:
                copyreg.dispatch_table[kind] = reductor


@dataclass(frozen=True)
class _Region:
    """One service's backend in one account and region, as it was when the snapshot was taken."""

    service: BackendDict[Any]
    account: str
    region: str
    backend: Any  # the backend object the state was copied from (its fields refer to it)
    state: dict[str, Any]

    def target(self) -> Any:
        """The backend of the same service, account and region in moto as it is now."""
        return self.service[self.account][self.region]


@dataclass(frozen=True)
class MotoSnapshot:
    regions: tuple[_Region, ...]

    @classmethod
    def take(cls) -> MotoSnapshot:
        """Copy every backend moto has created so far."""
        found = [
            (service, account, region, backend)
            for service in BackendDict._instances
            for account, region, backend in service.iter_backends()
        ]
        # A model that refers to a backend (its own or another service's) keeps referring to the live one.
        memo: dict[int, Any] = {id(backend): backend for *_, backend in found}
        with _locks_made_anew():
            return cls(
                tuple(
                    _Region(service, account, region, backend, copy.deepcopy(vars(backend), memo))
                    for service, account, region, backend in found
                )
            )

    def restore(self) -> None:
        """Put the copied state into moto's backends. Moto must be freshly reset (mock_aws just started):
        backends the snapshot does not hold stay as reset left them."""
        targets = [(region, region.target()) for region in self.regions]
        memo: dict[int, Any] = {id(region.backend): target for region, target in targets}
        with _locks_made_anew():
            for region, target in targets:
                target.__dict__ = copy.deepcopy(region.state, memo)
