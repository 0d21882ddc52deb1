"""Status state machines: each status, the statuses it may move to, and a 409 that lists them otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from leadstream.errors import Conflict


class InvalidTransition(Conflict):
    """The record exists but its status does not allow the change: a conflict with its current state."""


@dataclass(frozen=True)
class StateMachine[S: StrEnum]:
    entity: str  # "quote", "order" ... as it reads in a message
    transitions: Mapping[S, frozenset[S]]

    def allowed_from(self, current: S) -> frozenset[S]:
        return self.transitions.get(current, frozenset())

    def is_final(self, status: S) -> bool:
        return not self.allowed_from(status)

    def check(self, current: S, target: S) -> S:
        """`target` if the machine allows current -> target; else InvalidTransition naming what is allowed."""
        allowed = self.allowed_from(current)
        if target in allowed:
            return target
        refusal = self._refusal(current, target, allowed)
        raise InvalidTransition(refusal, errors=[self._hint(current, allowed)])

    def _refusal(self, current: S, target: S, allowed: frozenset[S]) -> str:
        if not allowed:
            return f"This {self.entity} is {current.value}, which is final: its status cannot change."
        return (
            f"A {self.entity} that is {current.value} cannot become {target.value}; "
            f"it can become {_either(allowed)}."
        )

    def _hint(self, current: S, allowed: frozenset[S]) -> dict[str, str]:
        choices = ", ".join(sorted(status.value for status in allowed)) or "none"
        return {"field": "status", "message": f"allowed from {current.value}: {choices}"}


def _either(statuses: frozenset[StrEnum]) -> str:
    names = sorted(status.value for status in statuses)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
