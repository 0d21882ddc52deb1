"""What the tracking endpoints do, on plain values: who sent it, which events are valid, what is stored.

The handler turns the API Gateway event into an `HttpRequest` and an outcome into a response; storage
comes in through `Store`, so this module runs against DynamoDB in production and a fake in a unit test.

Other domains store the events they make and read a person's timeline here (`store_events`,
`profile_timeline`), never in tracking.store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from leadstream import clock
from leadstream.caches import container_cache
from leadstream.consents import declines_tracking
from leadstream.errors import (
    Forbidden,
    InvalidInput,
    LeadstreamError,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
)
from leadstream.events import MAX_EVENT_BYTES, SegmentMessage, TrackedEvent, event_size
from leadstream.http import validation_errors
from tracking import forms, geo, parsing, pixel
from tracking.store import events, sources
from tracking.store.timeline import profile_events

if TYPE_CHECKING:
    from leadstream.profiles import IdentityRef
    from tracking.sources import Form, Source


@dataclass(frozen=True)
class Store:
    """The reads and writes tracking needs; `dynamo_store()` is the real one."""

    source_by_write_key: Callable[[str], Source | None]
    source_by_id: Callable[[str], Source | None]
    form_by_id: Callable[[str], Form | None]
    store_events: Callable[[Sequence[TrackedEvent]], None]


@container_cache
def dynamo_store() -> Store:
    return Store(
        source_by_write_key=sources.source_by_write_key,
        source_by_id=sources.source_by_id,
        form_by_id=sources.form_by_id,
        store_events=events.store_events,
    )


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP request tracking reads. Header names are lower case."""

    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)
    cookies: Sequence[str] = ()
    # The query as sent, percent-escapes and all: `query` holds it decoded by the gateway.
    raw_query: str = ""
    # The address the request came from (API Gateway's sourceIp): located, then truncated (tracking.geo).
    source_ip: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass(frozen=True)
class Rejection:
    """One event of a batch that was not stored, and why."""

    index: int
    message_id: str | None
    errors: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "messageId": self.message_id, "errors": self.errors}


@dataclass(frozen=True)
class Outcome:
    accepted: int
    rejected: list[Rejection] = field(default_factory=list)
    # A form post caught by the honeypot: answered like a success, stored nowhere.
    dropped_as_spam: bool = False
    redirect_to: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"success": True}
        if self.rejected:
            body["rejected"] = [rejection.to_json() for rejection in self.rejected]
        return body


# --- Segment HTTP Tracking API ------------------------------------------------------------------


def track(path_segment: str, request: HttpRequest, store: Store) -> Outcome:
    """POST /v1/{type}: one event, or a batch whose valid events are stored even if others are not."""
    kind = parsing.path_type(path_segment)
    payload = parsing.read_json_body(
        request.body, request.header("content-type"), request.header("content-encoding")
    )
    key = parsing.write_key(request.header("authorization"), payload)
    source = authorize(key, request.header("origin"), store)
    raws = parsing.expand(payload, kind)
    # One receivedAt for the whole request, on our clock: it is what corrects a device's bad clock.
    received_at = clock.now()
    for raw in raws:
        geo.enrich(raw, request.source_ip)
    if kind != parsing.BATCH:
        return ingest([accept(raws[0], source.source_id, received_at)], [], store)
    events, rejected = accept_all(raws, source.source_id, received_at)
    return ingest(events, rejected, store)


def authorize(write_key: str, origin: str | None, store: Store) -> Source:
    """The source a write key belongs to, if this browser origin may send its events."""
    source = store.source_by_write_key(write_key) if parsing.is_plausible_write_key(write_key) else None
    if source is None:
        raise Unauthorized("Unknown write key; copy it from the source's settings.")
    check_origin(source, origin)
    return source


def check_origin(source: Source, origin: str | None) -> None:
    if not source.allows_origin(origin):
        raise Forbidden(
            f"Origin {origin} may not send events for source {source.source_id}; "
            "add it to the source's allowed origins."
        )


def accept(raw: Any, source_id: str, received_at: datetime) -> TrackedEvent:
    """One raw event as it will be stored, or the error that says what to fix."""
    return validate(raw).to_tracked(source_id, received_at)


def validate(raw: Any) -> SegmentMessage:
    """One raw event as a SegmentMessage, or the error that says what to fix (413 when too big)."""
    if not isinstance(raw, dict):
        message = "an event must be a JSON object"
        raise InvalidInput(f"The event is not valid: {message}.", errors=[_error(message)])
    if parsing.nesting_depth(raw) > parsing.MAX_NESTING_DEPTH:  # first: what follows walks the event
        message = f"the event {parsing.DEEPER_THAN_LIMIT}"
        raise InvalidInput(f"The event is not valid: {message}.", errors=[_error(message)])
    size = _size_if_keepable(raw)
    if size > MAX_EVENT_BYTES:
        message = f"the event is {size} bytes; the limit is {MAX_EVENT_BYTES}"
        raise PayloadTooLarge(f"The event is too large: {message}.", errors=[_error(message)])
    try:
        return SegmentMessage.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput("The event is not valid; see errors.", errors=validation_errors(exc)) from None


def _size_if_keepable(raw: dict[str, Any]) -> int:
    """The event's size. Measuring it serializes the event as stored, so it fails on exactly what cannot
    be kept as sent (an Unkeepable, a lone surrogate): only then is the event walked to name the fields."""
    try:
        return event_size(raw)
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        unkeepable = parsing.content_errors(raw)
        if not unkeepable:
            raise
        message = "The event holds values that cannot be kept as sent; see errors."
        raise InvalidInput(message, errors=unkeepable) from None


def accept_all(
    raws: Sequence[Any], source_id: str, received_at: datetime
) -> tuple[list[TrackedEvent], list[Rejection]]:
    """The valid events of a batch, and a rejection for each other one. None valid is a 422."""
    events: list[TrackedEvent] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(raws):
        try:
            events.append(accept(raw, source_id, received_at))
        except LeadstreamError as exc:
            rejected.append(Rejection(index, _message_id(raw), exc.errors))
    if not events:
        raise InvalidInput(
            "No event in the batch is valid; see errors.",
            errors=[
                {**error, "field": _batch_field(rejection.index, error["field"])}
                for rejection in rejected
                for error in rejection.errors
            ],
        )
    return events, rejected


def ingest(events: Sequence[TrackedEvent], rejected: list[Rejection], store: Store) -> Outcome:
    """Store the accepted events, except those whose own consent declines tracking: of those nothing is
    stored at all (no ids, traits, address or browser), and they still count as accepted, as the sender
    did nothing wrong (docs/customer-data.md, "Consent"). No read: the event alone decides."""
    kept = [event for event in events if not declines_tracking(event.context)]
    if kept:
        store.store_events(kept)
    return Outcome(accepted=len(events), rejected=rejected)


def _error(message: str) -> dict[str, Any]:
    return {"field": "(event)", "message": message}


def _batch_field(index: int, field_name: str) -> str:
    inner = "" if field_name in ("(body)", "(event)") else f".{field_name}"
    return f"batch.{index}{inner}"


def _message_id(raw: Any) -> str | None:
    value = raw.get("messageId") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


# --- Pixel --------------------------------------------------------------------------------------


def track_pixel(path_segment: str, request: HttpRequest, store: Store) -> Outcome:
    """GET /pixel/v1/{track,page}: one event from query parameters (RudderStack's pixel API)."""
    kind = pixel.pixel_type(path_segment)
    # The gateway decodes the query for `query`; bytes that are not UTF-8 must be refused, not replaced.
    parsing.decode_query(request.raw_query, max_fields=parsing.MAX_FIELDS)
    key = request.query.get("writeKey", "")
    if not key.strip():
        raise Unauthorized("No write key: add `writeKey` to the pixel URL's query.")
    source = authorize(key.strip(), request.header("origin"), store)
    raw = pixel.pixel_event(kind, request.query, user_agent=request.header("user-agent"))
    geo.enrich(raw, request.source_ip)
    return ingest([accept(raw, source.source_id, clock.now())], [], store)


# --- Forms --------------------------------------------------------------------------------------


def submit_form(form_id: str, request: HttpRequest, store: Store) -> Outcome:
    """POST /forms/{formId}: a "Form Submitted" track event that identifies the visitor by email."""
    form = store.form_by_id(form_id)
    source = store.source_by_id(form.source_id) if form else None
    if form is None or source is None:
        raise NotFound(f"There is no form {form_id!r}; check the form id in the form's action URL.")
    check_origin(source, request.header("origin"))
    content_type = request.header("content-type")
    fields = forms.read_fields(request.body, content_type)
    unkeepable = parsing.content_errors(fields)  # a JSON post can hold what a form encoding cannot
    if unkeepable:
        raise InvalidInput(
            "The form holds values that cannot be kept as sent; see errors.", errors=unkeepable
        )
    redirect_to = (
        str(form.thank_you_url)
        if form.thank_you_url and forms.is_browser_post(content_type, request.header("accept"))
        else None
    )
    if forms.is_spam(form, fields):
        return Outcome(accepted=0, dropped_as_spam=True, redirect_to=redirect_to)
    raw = forms.form_event(
        form,
        fields,
        anonymous_id=forms.anonymous_id(request.cookies, fields),
        referer=request.header("referer"),
        user_agent=request.header("user-agent"),
        idempotency_key=request.header("idempotency-key"),
        day=clock.today(),
    )
    geo.enrich(raw, request.source_ip)
    outcome = ingest([accept(raw, source.source_id, clock.now())], [], store)
    return Outcome(accepted=outcome.accepted, redirect_to=redirect_to)


# --- For other domains -------------------------------------------------------------------------


def store_events(events: Sequence[TrackedEvent]) -> None:
    """Store events made elsewhere (email feedback and link clicks, journey actions) with the tracked
    ones: scoring reads them from the events stream alike. Idempotent: a message stored again with the
    same messageId overwrites its own item."""
    dynamo_store().store_events(events)


def register_form(form: Form) -> None:
    """Create or replace a form (the website domain registers the forms it defines, so that their posts
    take the same path as any other form's)."""
    sources.put_form(form)


def source_of(source_id: str) -> Source | None:
    """The source with this id, if there is one (cached per container like every source read)."""
    return dynamo_store().source_by_id(source_id)


def profile_timeline(
    identities: Sequence[IdentityRef], *, limit: int, cursor: str | None = None
) -> tuple[list[TrackedEvent], str | None]:
    """One page of the events of a person known by `identities` (all of them, across merges), newest
    first, and the next page's cursor."""
    return profile_events(identities, limit=limit, cursor=cursor)
