"""What the public website routes do, on plain values: serve a landing page, take its form, hand out an
asset, fill a slot, choose pop-ups, count what happened. The routes (website/routes_public.py) only turn
HTTP into a `Visit` and an `Answer` back into HTTP.

Events go through tracking like any website's (tracking.logic): the page view, the "Form Submitted" of a
valid form (tracking's own form path, so the event is the one `POST /forms/{formId}` makes) and "Asset
Downloaded", all on the visitor's analytics.js anonymous id, so scoring merges them into one person.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from aws_lambda_powertools import Logger
from aws_lambda_powertools.shared.cookies import Cookie
from markupsafe import Markup

from leadstream import clock
from leadstream.errors import InvalidInput, NotFound
from scoring.handoff import email_owner
from scoring.handoffs import SendFailed
from tracking import forms as tracking_forms
from tracking import logic as tracking
from tracking.sources import Form
from website import experiments, pages, store, visitors
from website import forms as web_forms
from website.models import (
    Asset,
    Audience,
    Block,
    BlockKind,
    ConversionKind,
    Page,
    PageContent,
    Popup,
    PopupKind,
    Slot,
    WebForm,
)

logger = Logger(child=True)
ASSET_DOWNLOADED = "Asset Downloaded"


@dataclass(frozen=True)
class Visit:
    """The parts of a public request the website reads. Header names are lower case."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    cookies: Sequence[str] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def base_url(self) -> str:
        host = self.header("host") or "localhost"
        proto = self.header("x-forwarded-proto") or (
            "http" if host.startswith(("127.", "localhost")) else "https"
        )
        return f"{proto}://{host}"

    @property
    def url(self) -> str:
        query = urlencode(dict(self.query))
        return f"{self.base_url}{self.path}{'?' + query if query else ''}"


@dataclass
class Answer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[Cookie] = field(default_factory=list)


# --- loading (cached documents: no read on a warm container) -----------------------------------------------
def published_page(slug: str) -> tuple[Page, PageContent]:
    item = store.cached_document("page", slug)
    if item is None or not item.get("published"):
        raise NotFound(f"There is no published page {slug!r}; check the link.")
    page = Page.model_validate(item)
    return page, PageContent.model_validate(item["published"])


def cached_form(form_id: str) -> WebForm | None:
    item = store.cached_document("form", form_id)
    return WebForm.model_validate(item) if item else None


def cached_asset(asset_id: str) -> Asset | None:
    item = store.cached_document("asset", asset_id)
    return Asset.model_validate(item) if item else None


def cached_slot(slot_id: str) -> Slot | None:
    item = store.cached_document("slot", slot_id)
    return Slot.model_validate(item) if item else None


# --- landing pages ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Shown:
    title: str
    blocks: list[Block]
    variant: str | None


def _shown(slug: str, content: PageContent, anonymous_id: str) -> _Shown:
    if content.test is None:
        return _Shown(content.title, content.blocks, None)
    variant = experiments.assign(slug, content.test, anonymous_id)
    return _Shown(variant.title or content.title, variant.blocks, variant.name)


def _page_segments(blocks: Sequence[Block]) -> set[str]:
    audiences: list[Audience] = []
    for block in blocks:
        if block.kind == BlockKind.SLOT and block.slot_id and (slot := cached_slot(block.slot_id)):
            audiences.extend(variant.audience for variant in slot.variants)
    return visitors.segments_of(audiences)


def view_page(slug: str, visit: Visit) -> Answer:
    """GET /p/{slug}: the published page for this visitor, and the view tracked."""
    _, content = published_page(slug)
    anonymous_id, new = visitors.visitor_id(visit.cookies, None)
    shown = _shown(slug, content, anonymous_id)
    visitor = visitors.resolve(anonymous_id, new=new, segment_ids=_page_segments(shown.blocks))
    answer = _render(slug, content, shown, visitor, visit, form_state=None)
    _track_view(slug, content, shown, visitor, visit)
    return answer


@dataclass(frozen=True)
class _FormState:
    form_id: str
    values: Mapping[str, Any]
    errors: Mapping[str, str]


def _render(
    slug: str,
    content: PageContent,
    shown: _Shown,
    visitor: visitors.Visitor,
    visit: Visit,
    *,
    form_state: _FormState | None,
    status: int = 200,
) -> Answer:
    context = pages.visitor_context(visitor.traits)
    redirect_origins: list[str] = []
    scene = _Scene(slug, context, visitor, visit, form_state, redirect_origins)
    rendered = [_block(block, scene) for block in shown.blocks]
    body = pages.sandboxed(content.template, {**context, "blocks": rendered, "title": shown.title})
    document = pages.document(
        title=shown.title,
        description=content.description,
        url=f"{visit.base_url}/p/{slug}",
        og_image=content.og_image,
        body=str(body),
        snippet_key=source.write_key if (source := tracking.source_of(content.source_id)) else None,
    )
    answer = Answer(status, document, pages.headers(redirect_origins))
    _remember(answer, visitor, visit)
    return answer


@dataclass(frozen=True)
class _Scene:
    """What every block of one rendering shares."""

    slug: str
    context: Mapping[str, Any]
    visitor: visitors.Visitor
    visit: Visit
    form_state: _FormState | None
    redirect_origins: list[str]


def _block(block: Block, scene: _Scene) -> Markup:
    slug, context, visitor, visit = scene.slug, scene.context, scene.visitor, scene.visit
    form_state, redirect_origins = scene.form_state, scene.redirect_origins
    if block.kind == BlockKind.TEXT:
        return pages.sandboxed(block.html or "", context)
    if block.kind == BlockKind.IMAGE:
        return Markup('<img class="ls-image" src="{}" alt="{}">').format(block.url, block.alt or "")
    if block.kind == BlockKind.ASSET:
        asset = cached_asset(block.asset_id or "")
        label = block.label or (asset.title if asset else "Download")
        return Markup('<p><a class="ls-asset" href="/a/{}">{}</a></p>').format(block.asset_id, label)
    if block.kind == BlockKind.SLOT:
        slot = cached_slot(block.slot_id or "")
        return Markup('<div class="ls-slot" data-leadstream-slot="{}" data-filled="server">{}</div>').format(
            block.slot_id, slot_html(slot, visitor) if slot else Markup("")
        )
    form = cached_form(block.form_id or "")
    if form is None:
        return Markup("")
    if form.redirect_url and (origin := web_forms.origin_of(form.redirect_url)):
        redirect_origins.append(origin)
    state = form_state if form_state and form_state.form_id == form.form_id else None
    hidden = _captured_fields(visit)
    requested = form_state.values.get(web_forms.ASSET_FIELD) if form_state else visit.query.get("asset")
    if isinstance(requested, str) and requested:
        hidden[web_forms.ASSET_FIELD] = requested[:100]
    hidden[web_forms.ANONYMOUS_ID_FIELD] = visitor.anonymous_id
    return Markup(
        web_forms.render(
            form,
            form.form_id,
            action=f"/p/{quote(slug)}",
            fields=web_forms.visible_fields(form, visitor.traits),
            values=state.values if state else None,
            errors=state.errors if state else None,
            hidden=hidden,
        )
    )


def _captured_fields(visit: Visit) -> dict[str, str]:
    """The hidden UTM and page fields of a form on this page: the landing URL's UTM parameters and the
    URL itself (a re-shown form keeps what the first view captured)."""
    if visit.method == "POST":
        return web_forms.captured(tracking_forms.read_fields(visit.body, visit.header("content-type")))
    found = {
        name: value[:500] for name, value in visit.query.items() if name in tracking_forms.UTM_PARAMETERS
    }
    found[web_forms.PAGE_URL_FIELD] = visit.url[: web_forms.MAX_CAPTURED_CHARS]
    return found


def _remember(answer: Answer, visitor: visitors.Visitor, visit: Visit) -> None:
    if visitor.new:
        answer.cookies.append(
            visitors.set_cookie(visitor.anonymous_id, secure=visit.base_url.startswith("https"))
        )


def _track_view(
    slug: str, content: PageContent, shown: _Shown, visitor: visitors.Visitor, visit: Visit
) -> None:
    parts = urlsplit(visit.url)
    campaign = {
        tracking_forms.UTM_PARAMETERS[name]: value
        for name, value in visit.query.items()
        if name in tracking_forms.UTM_PARAMETERS and value.strip()
    }
    properties: dict[str, Any] = {
        "url": visit.url,
        "path": parts.path,
        "search": f"?{parts.query}" if parts.query else "",
        "title": shown.title,
        "slug": slug,
    }
    if shown.variant:
        properties["variant"] = shown.variant
    context: dict[str, Any] = {"page": {k: properties[k] for k in ("url", "path", "search", "title")}}
    if campaign:
        context["campaign"] = campaign
    if visit.header("user-agent"):
        context["userAgent"] = visit.header("user-agent")
    raw = {
        "type": "page",
        "name": shown.title,
        "anonymousId": visitor.anonymous_id,
        "properties": properties,
        "context": context,
    }
    tracking.store_events([tracking.accept(raw, content.source_id, clock.now())])
    if shown.variant and content.test is not None:
        metric = experiments.view_metric(shown.variant)
        store.count_once("page", slug, [metric], claim=f"{metric}:{visitor.anonymous_id}")


# --- forms -------------------------------------------------------------------------------------------
def submit_page(slug: str, visit: Visit) -> Answer:
    """POST /p/{slug}: the page's form. Errors show the page again with each field's error (422); a valid
    submission is tracked and thanked (a message, or a redirect to an allowed place)."""
    _, content = published_page(slug)
    posted = tracking_forms.read_fields(visit.body, visit.header("content-type"))
    given = posted.get(web_forms.ANONYMOUS_ID_FIELD)
    anonymous_id, new = visitors.visitor_id(visit.cookies, given if isinstance(given, str) else None)
    shown = _shown(slug, content, anonymous_id)
    form_ids = [block.form_id for block in shown.blocks if block.kind == BlockKind.FORM and block.form_id]
    wanted = posted.get(web_forms.FORM_ID_FIELD)
    form_id = (
        wanted if isinstance(wanted, str) and wanted in form_ids else (form_ids[0] if form_ids else None)
    )
    form = cached_form(form_id) if form_id else None
    if form is None:
        raise NotFound(f"The page {slug!r} has no form to post to.")
    assets = _gated_assets(slug, shown.blocks, posted)
    visitor = visitors.resolve(anonymous_id, new=new, segment_ids=_page_segments(shown.blocks))
    outcome = _submit(form, posted, visitor, visit, page_url=None)
    if not outcome.ok:
        state = _FormState(form.form_id, posted, outcome.errors)
        return _render(slug, content, shown, visitor, visit, form_state=state, status=422)
    for asset in assets:
        store.unlock(asset.asset_id, visitor.anonymous_id)
    if shown.variant and content.test is not None and content.test.conversion == ConversionKind.FORM:
        _convert(slug, shown.variant, visitor.anonymous_id)
    requested = posted.get(web_forms.ASSET_FIELD)
    download = next((a for a in assets if a.asset_id == requested), None)
    if outcome.redirect:
        answer = Answer(303, "", {"Location": outcome.redirect, "Cache-Control": "no-store"})
    else:
        # The file is offered by a link (and a refresh), not a redirect: browsers check the redirects
        # that follow a form post against the page's form-action, and the file is on the bucket's host.
        link = (f"/a/{quote(download.asset_id)}", download.title) if download else None
        body = pages.message_page(shown.title, form.thank_you_message, link=link)
        answer = Answer(200, body, pages.headers())
    _remember(answer, visitor, visit)
    return answer


def _gated_assets(slug: str, blocks: Sequence[Block], posted: Mapping[str, Any]) -> list[Asset]:
    """The assets this page's form unlocks: asset blocks of the page gated by it, and the one asked for."""
    ids = {block.asset_id for block in blocks if block.kind == BlockKind.ASSET and block.asset_id}
    requested = posted.get(web_forms.ASSET_FIELD)
    if isinstance(requested, str) and len(requested) <= 100:
        ids.add(requested)
    found = [asset for asset_id in sorted(ids) if (asset := cached_asset(asset_id))]
    return [asset for asset in found if asset.gated_by == slug]


@dataclass(frozen=True)
class Submitted:
    ok: bool
    errors: dict[str, str] = field(default_factory=dict)
    redirect: str | None = None
    message: str | None = None


def _submit(
    form: WebForm, posted: Mapping[str, Any], visitor: visitors.Visitor, visit: Visit, *, page_url: str | None
) -> Submitted:
    """Check the asked fields; when valid, send the submission down tracking's form path."""
    if tracking_forms.is_spam(_tracking_form(form), posted):
        return Submitted(ok=True, message=form.thank_you_message)  # a bot: thanked, stored nowhere
    asked = web_forms.visible_fields(form, visitor.traits)
    checked = web_forms.check(asked, posted)
    if not checked.ok:
        return Submitted(ok=False, errors=checked.errors)
    values = dict(checked.values)
    email_name = form.email_field.name
    if email_name not in values and visitor.traits and visitor.traits.get("email"):
        values[email_name] = visitor.traits["email"]  # asked no more: the profile has it
    captured = web_forms.captured(posted)
    values.update(captured)
    values[web_forms.ANONYMOUS_ID_FIELD] = visitor.anonymous_id
    referer = page_url or captured.get(web_forms.PAGE_URL_FIELD) or visit.header("referer")
    headers = {"content-type": "application/json"}
    for name in ("user-agent", "idempotency-key"):
        if visit.header(name):
            headers[name] = visit.header(name) or ""
    if referer:
        headers["referer"] = referer
    request = tracking.HttpRequest(headers=headers, body=json.dumps(values).encode(), cookies=())
    tracking.submit_form(form.form_id, request, tracking.dynamo_store())
    if form.notify_email:
        _notify_owner(form, values, referer)
    redirect = None
    if form.redirect_url:
        source = tracking.source_of(form.source_id)
        if web_forms.redirect_allowed(form.redirect_url, source.allowed_origins if source else ()):
            redirect = form.redirect_url
    return Submitted(ok=True, redirect=redirect, message=form.thank_you_message)


def _notify_owner(form: WebForm, values: Mapping[str, Any], page_url: str | None) -> None:
    """Tell the form's owner of a submission, at most once per submission (the same visitor sending the
    same values to the same form on the same day is one submission, as for its event): a claim is
    written before SES is called; a send SES refused is logged, never the visitor's problem."""
    basis = json.dumps([form.form_id, values, clock.today().isoformat()], sort_keys=True, default=str)
    claim = "notify:" + hashlib.sha256(basis.encode()).hexdigest()[:32]
    if not form.notify_email or not store.count_once("form", form.form_id, ["notifications"], claim=claim):
        return
    shown = {name: value for name, value in values.items() if name != web_forms.ANONYMOUS_ID_FIELD}
    rows = "".join(
        f"<tr><th align=left>{html.escape(str(name))}</th><td>{html.escape(str(value))}</td></tr>"
        for name, value in shown.items()
    )
    text = "\n".join(f"{name}: {value}" for name, value in shown.items())
    subject = f"New submission: {form.name}"
    where = f"<p>From {html.escape(page_url)}</p>" if page_url else ""
    try:
        body = f"<h1>{html.escape(subject)}</h1>{where}<table>{rows}</table>"
        email_owner(form.notify_email, subject, f"{subject}\n\n{text}\n", body)
    except SendFailed as exc:
        logger.warning("Form notification not sent", form_id=form.form_id, error=str(exc)[:300])


def _tracking_form(form: WebForm) -> Form:
    return Form(form_id=form.form_id, source_id=form.source_id, name=form.name)


def submit_form(form_id: str, visit: Visit) -> dict[str, Any]:
    """POST /w/forms/{formId} (the snippet's pop-up forms): JSON in and out; errors are a 422 problem that
    lists each field."""
    form = cached_form(form_id)
    if form is None:
        raise NotFound(f"There is no form {form_id!r}.")
    posted = tracking_forms.read_fields(visit.body, visit.header("content-type"))
    given = posted.get(web_forms.ANONYMOUS_ID_FIELD)
    anonymous_id, new = visitors.visitor_id(visit.cookies, given if isinstance(given, str) else None)
    visitor = visitors.resolve(anonymous_id, new=new)
    page_url = posted.get(web_forms.PAGE_URL_FIELD)
    outcome = _submit(form, posted, visitor, visit, page_url=page_url if isinstance(page_url, str) else None)
    if not outcome.ok:
        raise InvalidInput(
            "The form has errors; see errors.",
            errors=[{"field": name, "message": message} for name, message in outcome.errors.items()],
        )
    popup_id = posted.get(web_forms.POPUP_FIELD)
    if isinstance(popup_id, str) and (popup := _cached_popup(popup_id)) and popup.form_id == form_id:
        store.count_once("popup", popup.popup_id, ["conversions"], claim=f"conversion:{visitor.anonymous_id}")
    return {"success": True, "message": outcome.message, "redirectUrl": outcome.redirect}


def form_html(form_id: str, visit: Visit) -> dict[str, Any]:
    """GET /w/forms/{formId}?anonymousId=: the form as HTML for this visitor (progressive profiling
    applied), for the snippet to place in a `[data-leadstream-form]` element."""
    form = cached_form(form_id)
    if form is None:
        raise NotFound(f"There is no form {form_id!r}.")
    anonymous_id, new = visitors.visitor_id(visit.cookies, _given_id(visit))
    visitor = visitors.resolve(anonymous_id, new=new)
    fields = web_forms.visible_fields(form, visitor.traits)
    action = f"/w/forms/{quote(form.form_id)}"
    rendered = web_forms.render(form, form.form_id, action=action, fields=fields)
    return {"formId": form.form_id, "html": rendered}


def _convert(slug: str, variant: str, anonymous_id: str) -> None:
    metric = experiments.conversion_metric(variant)
    store.count_once("page", slug, [metric], claim=f"{metric}:{anonymous_id}")


# --- assets ------------------------------------------------------------------------------------------
def download(asset_id: str, visit: Visit) -> Answer:
    """GET /a/{assetId}: a presigned redirect to the file, or (gated, unknown visitor) its page's form."""
    asset = cached_asset(asset_id)
    now = clock.now()
    if asset is None or not asset.servable(now):
        raise NotFound(f"There is no asset {asset_id!r} to download (it may have expired or been archived).")
    anonymous_id, new = visitors.visitor_id(visit.cookies, None)
    unlock = store.unlock_key(asset.asset_id, anonymous_id)
    visitor = visitors.resolve(anonymous_id, new=new, extra_keys=[unlock])
    if asset.gated_by and not (visitor.known or visitor.has(unlock)):
        answer = Answer(303, "", {"Location": f"/p/{quote(asset.gated_by)}?asset={quote(asset.asset_id)}",
                                  "Cache-Control": "no-store"})  # fmt: skip
        _remember(answer, visitor, visit)
        return answer
    file = asset.file
    day = now.date().isoformat()
    message_id = (
        "asset-" + hashlib.sha256(f"{asset.asset_id}\n{anonymous_id}\n{day}".encode()).hexdigest()[:32]
    )
    raw = {
        "type": "track",
        "event": ASSET_DOWNLOADED,
        "messageId": message_id,
        "anonymousId": anonymous_id,
        "properties": {"assetId": asset.asset_id, "title": asset.title, "file": file.number,
                       "fileName": file.file_name, "gated": bool(asset.gated_by)},
        "context": {"page": {"url": visit.header("referer") or visit.url}},
    }  # fmt: skip
    tracking.store_events([tracking.accept(raw, asset.source_id, now)])
    store.count_once("asset", asset.asset_id, ["downloads"], claim=message_id)
    if asset.gated_by:
        _asset_conversion(asset.gated_by, anonymous_id)
    disposition = _disposition(file.file_name)
    url = store.download_url(
        file.object_key, file_name=file.file_name, content_type=file.content_type, disposition=disposition
    )
    answer = Answer(302, "", {"Location": url, "Cache-Control": "no-store"})
    _remember(answer, visitor, visit)
    return answer


def _asset_conversion(slug: str, anonymous_id: str) -> None:
    item = store.cached_document("page", slug)
    if not item or not item.get("published"):
        return
    content = PageContent.model_validate(item["published"])
    if content.test is not None and content.test.conversion == ConversionKind.ASSET:
        _convert(slug, experiments.assign(slug, content.test, anonymous_id).name, anonymous_id)


def _disposition(file_name: str) -> str:
    fallback = file_name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


# --- dynamic content ---------------------------------------------------------------------------------
def slot_html(slot: Slot, visitor: visitors.Visitor) -> Markup:
    variant = visitors.first_match(slot.variants, visitor)
    source = variant.html if variant else slot.default_html
    return pages.sandboxed(source, pages.visitor_context(visitor.traits)) if source else Markup("")


def fill_slot(slot_id: str, visit: Visit) -> dict[str, Any]:
    """GET /w/slots/{slotId}: the slot's content for this visitor (JSON)."""
    slot = cached_slot(slot_id)
    if slot is None:
        raise NotFound(f"There is no slot {slot_id!r}.")
    anonymous_id, new = visitors.visitor_id(visit.cookies, _given_id(visit))
    audiences = [variant.audience for variant in slot.variants]
    visitor = visitors.resolve(anonymous_id, new=new, segment_ids=visitors.segments_of(audiences))
    variant = visitors.first_match(slot.variants, visitor)
    return {
        "slotId": slot_id,
        "variant": variant.name if variant else None,
        "html": str(slot_html(slot, visitor)),
    }


def _given_id(visit: Visit) -> str | None:
    value = visit.query.get("anonymousId")
    if value is not None and not (0 < len(value) <= 200):
        raise InvalidInput(
            "anonymousId must be 1 to 200 characters.",
            errors=[{"field": "query.anonymousId", "message": "1 to 200 characters"}],
        )
    return value


def _cached_popup(popup_id: str) -> Popup | None:
    item = store.cached_document("popup", popup_id)
    return Popup.model_validate(item) if item else None


def popups_for(visit: Visit) -> dict[str, Any]:
    """GET /w/popups?url=...&anonymousId=...: the pop-ups this visitor may see on that page now (their
    audience matches, the URL matches, under their cap), with their content rendered for them."""
    url = visit.query.get("url", "")
    if len(url) > 2000:
        raise InvalidInput(
            "url is at most 2000 characters.", errors=[{"field": "query.url", "message": "too long"}]
        )
    anonymous_id, new = visitors.visitor_id(visit.cookies, _given_id(visit))
    candidates = [
        popup for popup in store.cached_popups() if popup.active and _url_matches(popup.url_pattern, url)
    ]
    visitor = visitors.resolve(
        anonymous_id, new=new, segment_ids=visitors.segments_of(popup.audience for popup in candidates)
    )
    seen = store.seen_counts([popup.popup_id for popup in candidates], anonymous_id) if not new else {}
    shown = []
    for popup in candidates:
        if not visitors.matches(popup.audience, visitor) or seen.get(popup.popup_id, 0) >= popup.cap.times:
            continue
        shown.append(_popup_json(popup, visitor, visit))
    return {"anonymousId": anonymous_id, "popups": shown}


def _url_matches(pattern: str, url: str) -> bool:
    return fnmatchcase(url, pattern)


def _popup_json(popup: Popup, visitor: visitors.Visitor, visit: Visit) -> dict[str, Any]:
    context = pages.visitor_context(visitor.traits)
    body = str(pages.sandboxed(popup.html, context)) if popup.html else ""
    if popup.kind == PopupKind.FORM and (form := cached_form(popup.form_id or "")):
        body += web_forms.render(
            form,
            form.form_id,
            action=f"/w/forms/{quote(form.form_id)}",
            fields=web_forms.visible_fields(form, visitor.traits),
            hidden={web_forms.POPUP_FIELD: popup.popup_id},
        )
    if popup.kind == PopupKind.LINK and popup.link_url:
        href, label = html.escape(popup.link_url, quote=True), html.escape(popup.link_label or "Open")
        body += f'<p><a class="ls-asset" href="{href}">{label}</a></p>'
    return {
        "popupId": popup.popup_id,
        "kind": popup.kind.value,
        "trigger": popup.trigger.model_dump(mode="json", exclude_none=True),
        "html": body,
    }


POPUP_EVENTS = {"impression": "impressions", "click": "clicks"}


def popup_event(popup_id: str, visit: Visit) -> dict[str, Any]:
    """POST /w/popups/{popupId}/events {type, anonymousId, eventId}: an impression (counts against the
    visitor's cap) or a click, counted once per eventId."""
    popup = _cached_popup(popup_id)
    if popup is None:
        raise NotFound(f"There is no pop-up {popup_id!r}.")
    body = tracking_forms.read_fields(visit.body, visit.header("content-type") or "application/json")
    kind, event_id, given = body.get("type"), body.get("eventId"), body.get("anonymousId")
    problems = []
    if not isinstance(kind, str) or kind not in POPUP_EVENTS:
        problems.append({"field": "type", "message": "impression or click"})
    if not isinstance(event_id, str) or not 8 <= len(event_id) <= 100:
        problems.append({"field": "eventId", "message": "a unique id of 8 to 100 characters (a UUID)"})
    if given is not None and (not isinstance(given, str) or not 0 < len(given) <= 200):
        problems.append({"field": "anonymousId", "message": "1 to 200 characters"})
    if problems:
        raise InvalidInput("The pop-up event is not valid; see errors.", errors=problems)
    anonymous_id, _ = visitors.visitor_id(visit.cookies, given if isinstance(given, str) else None)
    counted = store.count_once("popup", popup_id, [POPUP_EVENTS[str(kind)]], claim=f"{kind}:{event_id}")
    if counted and kind == "impression":
        store.add_seen(popup_id, anonymous_id, popup.cap.per_days)
    return {"success": True, "counted": counted}


def page_conversion(slug: str, visit: Visit) -> dict[str, Any]:
    """POST /w/pages/{slug}/conversions {event, anonymousId}: a named event that converts the page's test."""
    _, content = published_page(slug)
    body = tracking_forms.read_fields(visit.body, visit.header("content-type") or "application/json")
    event, given = body.get("event"), body.get("anonymousId")
    if not isinstance(event, str) or not isinstance(given, str) or not 0 < len(given) <= 200:
        raise InvalidInput(
            "Send event (its name) and anonymousId.",
            errors=[
                {"field": "event", "message": "the event's name"},
                {"field": "anonymousId", "message": "the visitor's id"},
            ],
        )
    test = content.test
    counted = False
    if test is not None and test.conversion == ConversionKind.EVENT and event == test.conversion_event:
        variant = experiments.assign(slug, test, given).name
        metric = experiments.conversion_metric(variant)
        counted = store.count_once("page", slug, [metric], claim=f"{metric}:{given}")
    return {"success": True, "counted": counted}


def query_of(raw_query: str) -> dict[str, str]:
    return dict(parse_qsl(raw_query, keep_blank_values=True))
