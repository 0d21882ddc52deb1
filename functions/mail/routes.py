"""Email routes under /marketing: templates (versions, preview) and the suppression list. Thin: request
in, logic (mail/templates.py, mail/suppression_list.py) out. Every route needs the marketing policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from leadstream.routing import MarketingRequest, document_response, no_content

if TYPE_CHECKING:
    from mail.template_models import EmailTemplate
    from mail.templates import Templates

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated
request = MarketingRequest(router)


def _templates() -> Templates:
    from mail.templates import Templates, dynamo_store

    return Templates(store=dynamo_store())


def _template_response(template: EmailTemplate, status: int = 200) -> Response[str]:
    from mail.templates import etag

    location = f"/marketing/templates/{template.template_id}"
    return document_response(template.to_json(), etag=etag(template), status=status, location=location)


# --- templates -------------------------------------------------------------------------------------------
@router.get("/marketing/templates")
def list_templates() -> dict[str, Any]:
    from leadstream.pagination import decode_cursor, encode_cursor, parse_limit

    request.caller()
    query = router.current_event.query_string_parameters or {}
    templates, last_key = _templates().page(
        limit=parse_limit(query.get("limit")), start_key=decode_cursor(query.get("cursor"))
    )
    summaries = [
        template.model_dump(
            by_alias=True,
            mode="json",
            include={"template_id", "name", "subject", "version", "updated_at", "updated_by"},
        )
        for template in templates
    ]
    return {"templates": summaries, "nextCursor": encode_cursor(last_key)}


@router.post("/marketing/templates")
def create_template() -> Response[str]:
    from mail.template_models import TemplateContent

    caller = request.caller()
    content = TemplateContent.model_validate(request.body())
    return _template_response(_templates().create(content, user=caller.user_id), status=201)


@router.get("/marketing/templates/<template_id>")
def get_template(template_id: str) -> Response[str]:
    request.caller()
    return _template_response(_templates().get(template_id, request.version()))


@router.put("/marketing/templates/<template_id>")
def update_template(template_id: str) -> Response[str]:
    from mail.template_models import TemplateContent

    caller = request.caller()
    content = TemplateContent.model_validate(request.body())
    return _template_response(
        _templates().update(template_id, content, if_match=request.if_match(), user=caller.user_id)
    )


@router.delete("/marketing/templates/<template_id>")
def archive_template(template_id: str) -> Response[str]:
    caller = request.caller()
    _templates().archive(template_id, if_match=request.if_match(), user=caller.user_id)
    return no_content()


@router.post("/marketing/templates/<template_id>/preview")
def preview_template(template_id: str) -> dict[str, Any]:
    from mail.config import get_email_settings
    from mail.link_tokens import LinkSigner, link_keys
    from mail.templates import PreviewRequest

    request.caller()
    preview = PreviewRequest.model_validate(request.body() or {})
    settings = get_email_settings()
    signer = LinkSigner(_public_base_url(), link_keys())
    return _templates().preview(
        template_id,
        preview,
        signer=signer,
        postal_address=settings.postal_address or "(postal address not configured)",
        sender=settings.from_name,
    )


def _public_base_url() -> str:
    """Where this API is reached, for the preview's links (the function cannot be told its own URL: the
    API's definition refers to the function, so the reverse would be a circular reference)."""
    headers = router.current_event.headers or {}
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip()
    host = headers.get("host") or router.current_event.request_context.domain_name
    return f"{scheme}://{host}"


# --- suppression list --------------------------------------------------------------------------------------
@router.get("/marketing/suppressions/<email>")
def get_suppression(email: str) -> dict[str, Any]:
    from mail import suppression_list as suppressions

    request.caller()
    return suppressions.to_json(suppressions.lookup(email))


@router.put("/marketing/suppressions/<email>")
def add_suppression(email: str) -> dict[str, Any]:
    from mail import suppression_list as suppressions

    caller = request.caller()
    body = suppressions.ManualSuppression.model_validate(request.body() or {})
    return suppressions.to_json(suppressions.add_manual(email, body, user=caller.username or caller.user_id))


@router.delete("/marketing/suppressions/<email>")
def remove_suppression(email: str) -> dict[str, Any]:
    from mail import suppression_list as suppressions

    request.caller()
    return suppressions.to_json(suppressions.remove_manual(email))
