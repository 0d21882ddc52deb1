"""The erasure routes under /marketing/privacy/erasures (docs/customer-data.md, Erasure). Thin: parse, call
one function of customerdata.erasure, shape the answer.

Asking for an erasure needs the admin role: it cannot be undone and it rewrites sales' records (contacts,
leads, their history), which marketing may not edit. Reading one (its status and receipt, which hold no
personal data) needs marketing or admin, as the access export does.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import ConfigDict, Field, StringConstraints, model_validator

from customerdata import erasure
from leadstream.api import Api, IdempotencyKey
from leadstream.auth import ADMIN_ONLY, MARKETING
from leadstream.models import Model

TAG = "privacy"
BASE = "/marketing/privacy/erasures"
ErasureIdPath = Annotated[str, Path(pattern=r"^era_[0-9a-f]{32}$", description="the erasure's id")]
EMAIL = r"^[^@\s]+@[^@\s]+$"


class ErasureRequest(Model):
    """One person, by email address or by profile id (exactly one of them)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    email: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320, pattern=EMAIL)]
        | None
    ) = None
    profile_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@-]{1,200}$")] | None = Field(
        default=None, alias="profileId"
    )

    @model_validator(mode="after")
    def _one(self) -> ErasureRequest:
        if (self.email is None) == (self.profile_id is None):
            raise ValueError("give either email or profileId, not both")
        return self


class ReceiptEntry(Model):
    model_config = ConfigDict(defer_build=True)

    store: str = Field(description="where: events, emailSends, suppression, crm, profile ...")
    items: dict[str, int] = Field(description="what was erased there, by kind, and how many")
    finished_at: str | None = Field(default=None, alias="finishedAt", description="when that store was done")


class ErasureView(Model):
    """An erasure's status and receipt (docs/customer-data.md, Erasure). No personal data."""

    model_config = ConfigDict(defer_build=True)

    erasure_id: str = Field(alias="erasureId")
    status: str = Field(description="queued, running, done")
    created_at: str = Field(alias="createdAt")
    started_at: str | None = Field(default=None, alias="startedAt")
    finished_at: str | None = Field(default=None, alias="finishedAt")
    requested_by: str = Field(alias="requestedBy")
    receipt: list[ReceiptEntry]
    lake: str = Field(
        description="the event lake holds ids only (no address, name or phone): nothing to erase there"
    )

    @classmethod
    def of(cls, job: dict[str, Any]) -> ErasureView:
        return cls.model_validate(
            {
                "erasureId": job["erasureId"],
                "status": job["status"],
                "createdAt": job["createdAt"],
                "startedAt": job.get("startedAt"),
                "finishedAt": job.get("finishedAt"),
                "requestedBy": job.get("requestedBy", ""),
                "receipt": erasure.receipt(job),
                "lake": "ids only: nothing personal is exported to the lake",
            }
        )


class ErasureList(Model):
    model_config = ConfigDict(defer_build=True)

    items: list[ErasureView]


def register(api: Api) -> None:
    @api.route(
        "POST", BASE, policy=ADMIN_ONLY, tag=TAG, status_code=202, problems=[404],
        headers={"Location": {"description": "the erasure's URL"}},
        summary="Erase a person's personal data from every store (asynchronous; the same person again "
        "gets the same erasure)",
    )  # fmt: skip
    def request_erasure(
        body: ErasureRequest, idempotency_key: IdempotencyKey = None
    ) -> Response[ErasureView]:
        requested = erasure.request_erasure(
            email=body.email,
            profile_id=body.profile_id,
            user=api.principal().user_id,
            idempotency_key=idempotency_key,
        )
        job = requested.job
        return Response(
            status_code=202,
            content_type="application/json",
            body=ErasureView.of(job),
            headers={"Location": f"{BASE}/{job['erasureId']}"},
        )

    @api.route(
        "GET", f"{BASE}/<erasure_id>", policy=MARKETING, tag=TAG, problems=[404],
        summary="An erasure's status and its receipt (what was erased where, and when)",
    )  # fmt: skip
    def get_erasure(erasure_id: ErasureIdPath) -> ErasureView:
        return ErasureView.of(erasure.get_erasure(erasure_id))

    @api.route("GET", BASE, policy=MARKETING, tag=TAG, summary="The latest erasures, newest first")
    def list_erasures() -> ErasureList:
        return ErasureList(items=[ErasureView.of(job) for job in erasure.latest_erasures(50)])
