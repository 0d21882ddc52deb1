"""The webhook routes (admin only), under /marketing/webhooks: subscriptions, their delivery log, a manual
redelivery; and the event catalog's schemas. Thin: parse, call integrations.webhooks, shape the answer."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from integrations import catalog, webhooks
from integrations.webhooks import (
    CreatedSubscription,
    Delivery,
    DeliveryStatus,
    Subscription,
    SubscriptionChanges,
    SubscriptionInput,
)
from leadstream.api import (
    CREATED_HEADERS,
    ETAG_HEADER,
    Api,
    IdempotencyKey,
    IfMatch,
    ListParams,
    check_if_match,
    create_once,
    page_model,
    versioned_response,
)
from leadstream.auth import ADMIN_ONLY
from leadstream.models import Model

TAG = "webhooks"
BASE = "/marketing/webhooks"
SubscriptionIdPath = Annotated[str, Path(pattern=r"^whk-[0-9a-f]{16}$", description="the subscription's id")]
DeliveryIdPath = Annotated[
    str, Path(pattern=r"^evt_[0-9a-f]{32}$", description="the delivery's (event's) id")
]
SubscriptionPage = page_model(Subscription, "WebhookSubscriptionPage", "webhook subscriptions")
DeliveryPage = page_model(Delivery, "WebhookDeliveryPage", "a subscription's deliveries, newest first")


class DeliveryQuery(ListParams):
    status: DeliveryStatus | None = None


class EventCatalog(Model):
    """Every catalog event type with its JSON Schema (docs/events.md)."""

    types: dict[str, dict[str, Any]]


def register(api: Api) -> None:
    @api.route("GET", BASE, policy=ADMIN_ONLY, summary="List webhook subscriptions", tag=TAG, problems=[400])
    def list_webhooks(params: Annotated[ListParams, Query()]) -> SubscriptionPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        items, next_cursor = webhooks.list_subscriptions(limit=params.limit, cursor=params.cursor)
        return SubscriptionPage(items=items, nextCursor=next_cursor)

    @api.route(
        "POST", BASE, policy=ADMIN_ONLY, tag=TAG, status_code=201, problems=[409], headers=CREATED_HEADERS,
        summary="Subscribe a receiver URL to catalog events; the answer holds the signing secret, once",
    )  # fmt: skip
    def create_webhook(
        body: SubscriptionInput, idempotency_key: IdempotencyKey = None
    ) -> Response[CreatedSubscription]:
        def create(new_id: str) -> dict[str, Any]:
            created = webhooks.create_subscription(body, user=api.principal().user_id, new_id=new_id)
            return created.model_dump(by_alias=True, mode="json")

        document = create_once(
            api, resource="webhook", body=body, idempotency_key=idempotency_key, create=create
        )
        created = CreatedSubscription.model_validate(document)
        return versioned_response(
            created, created.version, status=201, location=f"{BASE}/{created.subscription_id}"
        )

    @api.route(
        "GET", f"{BASE}/<subscription_id>", policy=ADMIN_ONLY, summary="Get a webhook subscription", tag=TAG,
        problems=[404], headers=ETAG_HEADER,
    )  # fmt: skip
    def get_webhook(subscription_id: SubscriptionIdPath) -> Response[Subscription]:
        found = webhooks.get_subscription(subscription_id)
        return versioned_response(found, found.version)

    @api.route(
        "PATCH", f"{BASE}/<subscription_id>", policy=ADMIN_ONLY, tag=TAG, problems=[404, 409, 412, 428],
        headers=ETAG_HEADER, summary="Change a subscription (If-Match required): URL, types, pause, resume",
    )  # fmt: skip
    def change_webhook(
        subscription_id: SubscriptionIdPath, body: SubscriptionChanges, if_match: IfMatch = None
    ) -> Response[Subscription]:
        changed = webhooks.change_subscription(subscription_id, body, partial(check_if_match, if_match))
        return versioned_response(changed, changed.version)

    @api.route(
        "DELETE", f"{BASE}/<subscription_id>", policy=ADMIN_ONLY, tag=TAG, status_code=204,
        problems=[404, 412, 428], summary="Delete a subscription (If-Match required); its deliveries stop",
    )  # fmt: skip
    def delete_webhook(subscription_id: SubscriptionIdPath, if_match: IfMatch = None) -> Response[None]:
        webhooks.delete_subscription(subscription_id, partial(check_if_match, if_match))
        return Response(status_code=204)

    @api.route(
        "GET", f"{BASE}/<subscription_id>/deliveries", policy=ADMIN_ONLY, tag=TAG, problems=[400, 404],
        summary="A subscription's delivery log, newest first (`status=dead` for the dead letters)",
    )  # fmt: skip
    def list_webhook_deliveries(
        subscription_id: SubscriptionIdPath, params: Annotated[DeliveryQuery, Query()]
    ) -> DeliveryPage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(DeliveryQuery)
        items, next_cursor = webhooks.list_deliveries(
            subscription_id, status=params.status, limit=params.limit, cursor=params.cursor
        )
        return DeliveryPage(items=items, nextCursor=next_cursor)

    @api.route(
        "POST", f"{BASE}/<subscription_id>/deliveries/<delivery_id>/redeliver", policy=ADMIN_ONLY, tag=TAG,
        status_code=202, problems=[404, 409], summary="Deliver again now, with a new retry window",
    )  # fmt: skip
    def redeliver_webhook(
        subscription_id: SubscriptionIdPath, delivery_id: DeliveryIdPath
    ) -> Response[Delivery]:
        delivery = webhooks.redeliver(subscription_id, delivery_id)
        return Response(status_code=202, content_type="application/json", body=delivery)

    @api.route(
        "GET", "/marketing/webhooks-catalog", policy=ADMIN_ONLY, tag=TAG,
        summary="The event catalog: every event type and the JSON Schema of its detail",
    )  # fmt: skip
    def event_catalog() -> EventCatalog:
        return EventCatalog(types=catalog.catalog_schemas())
