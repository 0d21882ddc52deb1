"""Email routes under /marketing: templates (versions, preview) and the suppression list. Every route
needs the marketing or admin role. Thin: parse, call mail.templates or mail.suppression_list, shape the
answer.

Templates are versioned documents: every answer with one carries its ETag, a change or an archive needs
If-Match (428 without it, 412 when stale), a create takes an Idempotency-Key, and `?version=n` reads an
earlier version. The suppression list is not versioned: adding an address twice, or taking a manual
entry off twice, leaves the list as once.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import ConfigDict, Field

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
from leadstream.auth import MARKETING
from leadstream.consents import TOPIC_ID_PATTERN
from leadstream.models import Model
from leadstream.pagination import decode_cursor, encode_cursor
from mail import suppression_list as suppressions
from mail import topics
from mail.config import get_email_settings
from mail.link_tokens import LinkSigner, link_keys
from mail.suppression_list import ManualSuppression, SuppressionEntry
from mail.template_models import (
    TEMPLATE_ID_PATTERN,
    EmailTemplate,
    PreviewRequest,
    TemplateContent,
    TemplatePreview,
    TemplateSummary,
)
from mail.templates import Templates, dynamo_store
from mail.topic_models import Topic, TopicContent, TopicCreate

if TYPE_CHECKING:
    from mail.templates import Templates

TemplateIdPath = Annotated[str, Path(pattern=TEMPLATE_ID_PATTERN, description="the template's id")]
TopicIdPath = Annotated[str, Path(pattern=TOPIC_ID_PATTERN, description="the topic's id")]
EmailPath = Annotated[str, Path(min_length=1, max_length=1000, description="the address (URL-encoded)")]
TemplatePage = page_model(TemplateSummary, "TemplatePage", "templates")


class TemplateVersionQuery(Model):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1, description="read this version (default: the latest)")


def register(api: Api) -> None:
    _templates(api)
    _template_changes(api)
    _suppressions(api)
    _topics(api)


def _store() -> Templates:
    # Imported on first use: rendering brings Jinja2, which only template routes need.
    return Templates(store=dynamo_store())


def _templates(api: Api) -> None:
    base, one = "/marketing/templates", "/marketing/templates/<template_id>"

    @api.route(
        "GET", base, policy=MARKETING, summary="List the live templates, last changed first",
        tag="templates", problems=[400],
    )  # fmt: skip
    def list_templates(params: Annotated[ListParams, Query()]) -> TemplatePage:  # type: ignore[valid-type]
        api.refuse_unknown_parameters(ListParams)
        templates, last_key = _store().page(limit=params.limit, start_key=decode_cursor(params.cursor))
        items = [TemplateSummary.of(template) for template in templates]
        return TemplatePage(items=items, nextCursor=encode_cursor(last_key))

    @api.route(
        "POST", base, policy=MARKETING, summary="Create a template (version 1)", tag="templates",
        status_code=201, problems=[409], headers=CREATED_HEADERS,
    )  # fmt: skip
    def create_template(
        body: TemplateContent, idempotency_key: IdempotencyKey = None
    ) -> Response[EmailTemplate]:
        def create(new_id: str) -> dict[str, Any]:
            return _store().create(body, user=api.principal().user_id, new_id=new_id).to_json()

        document = create_once(
            api, resource="email-template", body=body, idempotency_key=idempotency_key, create=create
        )
        created = EmailTemplate.model_validate(document)
        return versioned_response(
            created, created.version, status=201, location=f"{base}/{created.template_id}"
        )

    @api.route(
        "GET", one, policy=MARKETING, summary="Get a template: the latest version, or `version`",
        tag="templates", problems=[404], headers=ETAG_HEADER,
    )  # fmt: skip
    def get_template(
        template_id: TemplateIdPath, params: Annotated[TemplateVersionQuery, Query()]
    ) -> Response[EmailTemplate]:
        api.refuse_unknown_parameters(TemplateVersionQuery)
        template = _store().get(template_id, params.version)
        return versioned_response(template, template.version)

    @api.route(
        "POST", f"{one}/preview", policy=MARKETING, tag="templates", problems=[404],
        summary="Render a template for a person (by profile id or email), typed-in traits or a sample",
    )  # fmt: skip
    def preview_template(template_id: TemplateIdPath, body: PreviewRequest | None = None) -> TemplatePreview:
        settings = get_email_settings()
        return _store().preview(
            template_id,
            body or PreviewRequest(),
            signer=LinkSigner(_public_base_url(api), link_keys()),
            postal_address=settings.postal_address or "(postal address not configured)",
            sender=settings.from_name,
        )


def _template_changes(api: Api) -> None:
    one = "/marketing/templates/<template_id>"

    @api.route(
        "PUT", one, policy=MARKETING, summary="Change a template: a new version (If-Match required)",
        tag="templates", problems=[404, 412, 428], headers=ETAG_HEADER,
    )  # fmt: skip
    def update_template(
        template_id: TemplateIdPath, body: TemplateContent, if_match: IfMatch = None
    ) -> Response[EmailTemplate]:
        changed = _store().update(
            template_id, body, check_version=partial(check_if_match, if_match), user=api.principal().user_id
        )
        return versioned_response(changed, changed.version)

    @api.route(
        "DELETE", one, policy=MARKETING, tag="templates", status_code=204, problems=[404, 412, 428],
        summary="Archive a template (If-Match required): out of the list; its versions still render",
    )  # fmt: skip
    def archive_template(template_id: TemplateIdPath, if_match: IfMatch = None) -> Response[None]:
        _store().archive(
            template_id, check_version=partial(check_if_match, if_match), user=api.principal().user_id
        )
        return Response(status_code=204)


def _public_base_url(api: Api) -> str:
    """Where this API is reached, for the preview's links (the function cannot be told its own URL: the
    API's definition refers to the function, so the reverse would be a circular reference)."""
    event = api.app.current_event
    headers = event.headers or {}
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    host = headers.get("host") or event.request_context.domain_name
    return f"{scheme}://{host}"


def _suppressions(api: Api) -> None:
    one = "/marketing/suppressions/<email>"

    @api.route(
        "GET", one, policy=MARKETING, summary="Whether an address is suppressed, and why",
        tag="suppressions", problems=[404],
    )  # fmt: skip
    def get_suppression(email: EmailPath) -> SuppressionEntry:
        return SuppressionEntry.of(suppressions.lookup(email))

    @api.route(
        "PUT", one, policy=MARKETING, summary="Suppress an address by hand (reason `manual`)",
        tag="suppressions",
    )  # fmt: skip
    def add_suppression(email: EmailPath, body: ManualSuppression | None = None) -> SuppressionEntry:
        caller = api.principal()
        entry = suppressions.add_manual(
            email, body or ManualSuppression(), user=caller.username or caller.user_id
        )
        return SuppressionEntry.of(entry)

    @api.route(
        "DELETE", one, policy=MARKETING, tag="suppressions", problems=[404],
        summary="Take the manual entry off (an unsubscribe, bounce or complaint stays)",
    )  # fmt: skip
    def remove_suppression(email: EmailPath) -> SuppressionEntry:
        return SuppressionEntry.of(suppressions.remove_manual(email))


class TopicList(Model):
    model_config = ConfigDict(serialize_by_alias=True)

    items: list[Topic]


def _topics(api: Api) -> None:
    """Subscription topics (docs/customer-data.md): few per workspace, so the list is one page."""
    base, one = "/marketing/topics", "/marketing/topics/<topic_id>"

    @api.route(
        "GET", base, policy=MARKETING, summary="List the subscription topics (live first, then archived)",
        tag="topics",
    )  # fmt: skip
    def list_topics() -> TopicList:
        return TopicList(items=topics.list_topics())

    @api.route(
        "POST", base, policy=MARKETING, summary="Create a subscription topic", tag="topics",
        status_code=201, problems=[409], headers=CREATED_HEADERS,
    )  # fmt: skip
    def create_topic(body: TopicCreate) -> Response[Topic]:
        created = topics.create_topic(body, user=api.principal().user_id)
        return versioned_response(created, created.version, status=201, location=f"{base}/{created.topic_id}")

    @api.route(
        "GET", one, policy=MARKETING, summary="Get a subscription topic", tag="topics", problems=[404],
        headers=ETAG_HEADER,
    )  # fmt: skip
    def get_topic(topic_id: TopicIdPath) -> Response[Topic]:
        topic = topics.get_topic(topic_id)
        return versioned_response(topic, topic.version)

    @api.route(
        "PUT", one, policy=MARKETING, tag="topics", problems=[404, 409, 412, 428], headers=ETAG_HEADER,
        summary="Change a topic's name, description, or archive it (If-Match required)",
    )  # fmt: skip
    def update_topic(topic_id: TopicIdPath, body: TopicContent, if_match: IfMatch = None) -> Response[Topic]:
        changed = topics.update_topic(
            topic_id, body, check_version=partial(check_if_match, if_match), user=api.principal().user_id
        )
        return versioned_response(changed, changed.version)
