"""Form posts: reading the fields in any of the three encodings, and the "Form Submitted" event they make.

Pure functions, no AWS. A form post comes from a browser that may not run our script, so the event is
built here: the email identifies the visitor, trait-like fields become `context.traits`, the page the
form sits on (Referer) becomes `context.page` and its UTM parameters `context.campaign`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from email.message import Message as Compat32Message
from email.parser import BytesParser
from email.policy import HTTP
from email.utils import collapse_rfc2231_value
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from leadstream.errors import BadRequest, InvalidInput, UnsupportedMediaType
from leadstream.events import JUNK_IDS, MAX_ID_BYTES, MAX_ID_LENGTH
from tracking import parsing
from tracking.sources import Form

if TYPE_CHECKING:
    from email.message import Message

FORM_SUBMITTED = "Form Submitted"
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
ANONYMOUS_ID_COOKIE = "ajs_anonymous_id"
ANONYMOUS_ID_FIELD = "anonymousId"
MAX_FIELDS = parsing.MAX_FIELDS
MAX_IDEMPOTENCY_KEY_LENGTH = 200
# Deliberately loose: one @, something on both sides, a dot in the domain. Delivery proves the rest.
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH = 254
# What a ticked checkbox posts: browsers send "on" (or the box's value), JSON clients true.
TICKED = frozenset({"on", "true", "yes", "1", "checked"})

# Field names (lower case, without _ - and spaces) that carry a Segment reserved trait.
TRAIT_FIELDS: dict[str, str] = {
    "firstname": "firstName",
    "givenname": "firstName",
    "lastname": "lastName",
    "surname": "lastName",
    "familyname": "lastName",
    "name": "name",
    "fullname": "name",
    "company": "company",
    "companyname": "company",
    "organization": "company",
    "organisation": "company",
    "title": "title",
    "jobtitle": "title",
    "phone": "phone",
    "phonenumber": "phone",
    "tel": "phone",
    "mobile": "phone",
    "website": "website",
}
UTM_PARAMETERS: dict[str, str] = {
    "utm_source": "source",
    "utm_medium": "medium",
    "utm_campaign": "name",
    "utm_term": "term",
    "utm_content": "content",
}


def read_fields(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The submitted fields. A field sent more than once (checkboxes) becomes a list."""
    kind = parsing.media_type(content_type)
    parsing.check_request_size(len(body))
    if kind == URLENCODED:
        return _urlencoded_fields(body)
    if kind == MULTIPART:
        return _multipart_fields(body, content_type or "")
    if kind in ("application/json", "text/plain"):
        return parsing.parse_json_object(body)
    raise UnsupportedMediaType(
        f"Content-Type {kind!r} is not supported for forms; "
        f"send {URLENCODED}, {MULTIPART} or application/json."
    )


def _urlencoded_fields(body: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in parsing.decode_query(parsing.decode_text(body), max_fields=MAX_FIELDS):
        _add_field(fields, name, value)
    return fields


def _multipart_fields(body: bytes, content_type: str) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise BadRequest("The multipart body could not be read; check the boundary in Content-Type.")
    fields: dict[str, Any] = {}
    for part in message.get_payload():
        if isinstance(part, str):
            continue  # preamble text, not a part
        name = _part_name(part)
        if not name or part.get_filename():
            continue  # uploaded files are not event data
        _add_field(fields, name, _part_text(part, name))
        if len(fields) > MAX_FIELDS:
            raise BadRequest(f"The form has more than {MAX_FIELDS} fields.")
    return fields


def _part_name(part: Message) -> str | None:
    """The field name of a part, decoded strictly: raw UTF-8 (what browsers send) or RFC 2231
    (`name*=utf-8''na%C3%AFve`). The parser's own reading would turn other bytes into U+FFFD; its raw
    headers keep them as surrogate escapes."""
    raw = next((value for key, value in part.raw_items() if key.lower() == "content-disposition"), "")
    try:
        header = raw.encode("ascii", "surrogateescape").decode("utf-8")
        probe = Compat32Message()  # reads parameters without decoding them: RFC 2231 ones stay a tuple
        probe["Content-Disposition"] = header.replace("\r", "").replace("\n", "")  # unfolded
        name = probe.get_param("name", header="content-disposition")
        return collapse_rfc2231_value(name, errors="strict") if isinstance(name, tuple) else name
    except UnicodeError:
        raise BadRequest(
            "A multipart field name is not valid UTF-8 (or not in the charset it names)."
        ) from None


def _part_text(part: Message, field: str) -> str:
    """A field's value, decoded by its part's charset (UTF-8 when none is given)."""
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset)
    except LookupError:
        raise UnsupportedMediaType(
            f"Field {field!r} declares charset {charset!r}, which is unknown; send UTF-8."
        ) from None
    except UnicodeDecodeError:
        message = f"the value is not valid {charset}"
        raise BadRequest(
            f"Field {field!r} is not valid: {message}.", errors=[{"field": field, "message": message}]
        ) from None


def _add_field(fields: dict[str, Any], name: str, value: str) -> None:
    if name not in fields:
        fields[name] = value
    elif isinstance(fields[name], list):
        fields[name].append(value)
    else:
        fields[name] = [fields[name], value]


def is_browser_post(content_type: str | None, accept: str | None) -> bool:
    """A plain HTML form submission (not a script): it expects a page, so it can follow a redirect."""
    posted_form = parsing.media_type(content_type) in (URLENCODED, MULTIPART)
    return posted_form and "text/html" in (accept or "").lower()


def is_spam(form: Form, fields: Mapping[str, Any]) -> bool:
    """People never see the honeypot field; bots fill every field they find."""
    value = fields.get(form.honeypot_field)
    return bool(value.strip() if isinstance(value, str) else value)


def submitted_email(form: Form, fields: Mapping[str, Any]) -> str:
    name = form.email_field
    value = fields.get(name)
    email = value.strip() if isinstance(value, str) else ""
    if not email:
        problem = f"the form needs an email address in field {name!r}"
    elif len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.fullmatch(email):
        problem = f"{name!r} is not an email address"
    else:
        return email
    raise InvalidInput(
        f"The form cannot be accepted: {problem}.", errors=[{"field": name, "message": problem}]
    )


def anonymous_id(cookies: Sequence[str], fields: Mapping[str, Any]) -> str:
    """The visitor's analytics.js id (cookie, else an `anonymousId` field): the form joins their history."""
    for candidate in (_cookie(cookies, ANONYMOUS_ID_COOKIE), fields.get(ANONYMOUS_ID_FIELD)):
        if isinstance(candidate, str) and _usable_id(candidate):
            return candidate.strip()
    return str(uuid.uuid4())


def _cookie(cookies: Sequence[str], wanted: str) -> str | None:
    for cookie in cookies:
        name, _, value = cookie.partition("=")
        if name.strip() == wanted:
            return _unquote_cookie(value.strip())
    return None


def _unquote_cookie(value: str) -> str:
    """analytics.js 1.x stored the id JSON-encoded and URL-quoted: `%22abc%22` is `abc`."""
    value = unquote(value)
    if value.startswith('"'):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value.strip('"')
        return decoded if isinstance(decoded, str) else value
    return value


def _usable_id(value: str) -> bool:
    value = value.strip()
    size = len(value.encode("utf-8", "surrogatepass"))
    return 0 < len(value) <= MAX_ID_LENGTH and size <= MAX_ID_BYTES and value.lower() not in JUNK_IDS


def form_event(
    form: Form,
    fields: Mapping[str, Any],
    *,
    anonymous_id: str,
    referer: str | None,
    user_agent: str | None,
    idempotency_key: str | None,
    day: date,
) -> dict[str, Any]:
    """The raw "Form Submitted" track event, as a client would have sent it."""
    kept = {name: value for name, value in fields.items() if name != form.honeypot_field}
    traits = {"email": submitted_email(form, kept), **_traits(kept)}
    context: dict[str, Any] = {"traits": traits}
    page, campaign = _page_and_campaign(referer)
    campaign.update(_campaign(kept))
    if page:
        context["page"] = page
    if campaign:
        context["campaign"] = campaign
    if user_agent:
        context["userAgent"] = user_agent
    given = [consent for consent in form.consents if _ticked(kept.get(consent.field))]
    if given:
        # Segment's consent object (leadstream.consents), marked as a form's: only ticked boxes are
        # recorded, as granted; an unticked box withdraws nothing (the preference center does that).
        context["consent"] = {
            "categoryPreferences": {consent.purpose: True for consent in given},
            "text": {consent.purpose: consent.text for consent in given},
            "source": "form",
        }
    return {
        "type": "track",
        "event": FORM_SUBMITTED,
        "messageId": _message_id(form, kept, anonymous_id, idempotency_key, day),
        "anonymousId": anonymous_id,
        "properties": {
            "formId": form.form_id,
            "formName": form.name,
            "handRaiser": form.hand_raiser,
            "fields": kept,
        },
        "context": context,
    }


def _ticked(value: Any) -> bool:
    if isinstance(value, list):
        value = value[-1] if value else None
    return value is True or (isinstance(value, str) and value.strip().lower() in TICKED)


def _traits(fields: Mapping[str, Any]) -> dict[str, str]:
    traits: dict[str, str] = {}
    for name, value in fields.items():
        trait = TRAIT_FIELDS.get(re.sub(r"[\s_-]", "", name).lower())
        if trait and isinstance(value, str) and value.strip():
            traits.setdefault(trait, value.strip())
    return traits


def _campaign(values: Mapping[str, Any]) -> dict[str, str]:
    return {
        UTM_PARAMETERS[name]: value.strip()
        for name, value in values.items()
        if name in UTM_PARAMETERS and isinstance(value, str) and value.strip()
    }


def _page_and_campaign(referer: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """`context.page` and `context.campaign` from the page the form was posted from."""
    if not referer:
        return {}, {}
    parts = urlsplit(referer.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return {}, {}
    page = {
        "url": referer.strip(),
        "path": parts.path or "/",
        "search": f"?{parts.query}" if parts.query else "",
    }
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    return page, _campaign(query)


def _message_id(
    form: Form, fields: Mapping[str, Any], anonymous_id: str, idempotency_key: str | None, day: date
) -> str:
    """A resent submission keeps its id, so it is stored and scored once.

    With an Idempotency-Key the client says which posts are the same; without one, the same visitor
    sending the same values to the same form on the same day is taken as one submission (a double click
    or a browser resend), not as a second hand-raise.
    """
    key = (idempotency_key or "").strip()[:MAX_IDEMPOTENCY_KEY_LENGTH]
    basis = (
        f"key\n{key}"
        if key
        else json.dumps([anonymous_id, fields, day.isoformat()], sort_keys=True, default=str)
    )
    digest = hashlib.sha256(f"{form.form_id}\n{basis}".encode()).hexdigest()
    return f"form-{digest[:32]}"
