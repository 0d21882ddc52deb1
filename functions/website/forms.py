"""Website forms on plain values: which fields a visitor is asked (progressive profiling), checking what
they sent (each field's own error), the form as HTML, and where a thank-you may redirect.

Everything a visitor or a marketer typed is escaped when it is written into HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from tracking.forms import EMAIL_PATTERN, MAX_EMAIL_LENGTH, UTM_PARAMETERS
from website.models import FieldKind, FormContent, FormField

PHONE_PATTERN = re.compile(r"\+?[0-9 ().\-/]{5,30}")
MIN_PHONE_DIGITS = 5
TRUE_VALUES = frozenset({"on", "true", "yes", "1", "checked"})
# The hidden fields every rendered form carries (never asked, never validated as fields).
FORM_ID_FIELD = "_form"
PAGE_URL_FIELD = "page_url"
POPUP_FIELD = "_popup"
ASSET_FIELD = "_asset"
ANONYMOUS_ID_FIELD = "anonymousId"
HONEYPOT_FIELD = "website_url"
CAPTURED = (*UTM_PARAMETERS, PAGE_URL_FIELD)
MAX_CAPTURED_CHARS = 2000


@dataclass
class Checked:
    """What a submission holds once checked: the clean values, and each field's error."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def known_trait(traits: Mapping[str, Any], name: str) -> bool:
    value = traits.get(name)
    return value not in (None, "", [], {})


def visible_fields(form: FormContent, traits: Mapping[str, Any] | None) -> list[FormField]:
    """The fields this visitor is asked. For a known person (`traits` given), a progressive field whose
    trait the profile holds is skipped, and so is the email field when the profile has one; the fields
    after it move up, `maxVisibleFields` at most. Hidden fields always go along."""
    asked: list[FormField] = []
    hidden: list[FormField] = []
    limit = form.max_visible_fields
    for candidate in form.fields:
        if candidate.kind == FieldKind.HIDDEN:
            hidden.append(candidate)
            continue
        if traits is not None and _already_known(candidate, traits):
            continue
        if limit is not None and len(asked) >= limit and not candidate.required:
            continue
        asked.append(candidate)
    return [*asked, *hidden]


def _already_known(candidate: FormField, traits: Mapping[str, Any]) -> bool:
    if candidate.kind == FieldKind.EMAIL:
        return known_trait(traits, "email")
    return candidate.progressive and known_trait(traits, candidate.trait_name)


def check(fields: Iterable[FormField], posted: Mapping[str, Any]) -> Checked:
    """Each asked field against its rules; a hidden field takes its configured value, never the posted one."""
    result = Checked()
    for one in fields:
        if one.kind == FieldKind.HIDDEN:
            if one.value is not None:
                result.values[one.name] = one.value
            continue
        value, error = _check_one(one, posted.get(one.name))
        if error:
            result.errors[one.name] = error
        elif value not in (None, ""):
            result.values[one.name] = value
    return result


def _check_one(one: FormField, raw: Any) -> tuple[Any, str | None]:
    if isinstance(raw, list):
        raw = raw[-1] if raw else None
    if raw is not None and not isinstance(raw, str | bool | int | float):
        return None, "must be text"
    if one.kind in (FieldKind.CHECKBOX, FieldKind.CONSENT):
        checked = raw is True or (isinstance(raw, str) and raw.strip().lower() in TRUE_VALUES)
        if one.required and not checked:
            return (
                None,
                "please tick this box" if one.kind == FieldKind.CHECKBOX else "your consent is needed",
            )
        return checked, None
    text = "" if raw is None or isinstance(raw, bool) else str(raw).strip()
    if not text:
        return None, ("this field is required" if one.required else None)
    error = _length_error(one, text) or _kind_error(one, text)
    if error is None and one.pattern is not None and not re.fullmatch(one.pattern, text):
        error = one.pattern_message or "this value is not in the expected format"
    return (None, error) if error else (text, None)


def _length_error(one: FormField, text: str) -> str | None:
    if len(text) > one.max_length:
        return f"at most {one.max_length} characters"
    if one.min_length is not None and len(text) < one.min_length:
        return f"at least {one.min_length} characters"
    return None


def _kind_error(one: FormField, text: str) -> str | None:
    if one.kind == FieldKind.EMAIL and (len(text) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.fullmatch(text)):
        return "enter an email address like name@example.com"
    if one.kind == FieldKind.PHONE and (
        not PHONE_PATTERN.fullmatch(text) or sum(ch.isdigit() for ch in text) < MIN_PHONE_DIGITS
    ):
        return "enter a phone number (digits, spaces, + and dashes)"
    if one.kind == FieldKind.SELECT and text not in one.options:
        return "choose one of the options"
    return None


def captured(posted: Mapping[str, Any]) -> dict[str, str]:
    """The hidden UTM and page fields a rendered form carries, as posted (text only, bounded)."""
    found: dict[str, str] = {}
    for name in CAPTURED:
        value = posted.get(name)
        if isinstance(value, str) and value.strip():
            found[name] = value.strip()[:MAX_CAPTURED_CHARS]
    return found


# --- HTML --------------------------------------------------------------------------------------------
def _attr(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render(
    form: FormContent,
    form_id: str,
    *,
    action: str,
    fields: Iterable[FormField],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    hidden: Mapping[str, str] | None = None,
) -> str:
    """The form as HTML that works without JavaScript; `errors` shows each field's problem next to it."""
    values = values or {}
    errors = errors or {}
    parts = [
        f'<form class="ls-form" method="post" action="{_attr(action)}" '
        f'data-form-id="{_attr(form_id)}" accept-charset="utf-8" novalidate>'
    ]
    if errors:
        parts.append('<p class="ls-form-error" role="alert">Please correct the fields marked below.</p>')
    all_hidden = {FORM_ID_FIELD: form_id, **(hidden or {})}
    for name, value in all_hidden.items():
        parts.append(f'<input type="hidden" name="{_attr(name)}" value="{_attr(value)}">')
    # The honeypot: people never see it, bots fill it.
    parts.append(
        f'<div class="ls-hp" aria-hidden="true"><label>Leave empty <input type="text" name="{HONEYPOT_FIELD}"'
        ' tabindex="-1" autocomplete="off"></label></div>'
    )
    for one in fields:
        if one.kind == FieldKind.HIDDEN:
            continue  # its value is the form's own, set on the server
        parts.append(_field_html(one, values.get(one.name), errors.get(one.name)))
    parts.append(f'<button type="submit">{html.escape(form.submit_label)}</button></form>')
    return "".join(parts)


def _field_html(one: FormField, value: Any, error: str | None) -> str:
    name = _attr(one.name)
    label = html.escape(one.label) + (' <span class="ls-required">*</span>' if one.required else "")
    described = f' aria-invalid="true" aria-describedby="ls-err-{name}"' if error else ""
    required = " required" if one.required else ""
    error_html = (
        f'<span class="ls-field-error" id="ls-err-{name}">{html.escape(error)}</span>' if error else ""
    )
    text = "" if value is None or isinstance(value, bool) else str(value)
    if one.kind in (FieldKind.CHECKBOX, FieldKind.CONSENT):
        checked = " checked" if value is True else ""
        control = f'<input type="checkbox" name="{name}" value="on"{checked}{required}{described}>'
        return f'<div class="ls-field ls-check"><label>{control} {label}</label>{error_html}</div>'
    if one.kind == FieldKind.SELECT:
        options = ['<option value="">—</option>'] + [
            f'<option value="{_attr(option)}"{" selected" if option == text else ""}>'
            f"{html.escape(option)}</option>"
            for option in one.options
        ]
        control = f'<select id="ls-{name}" name="{name}"{required}{described}>{"".join(options)}</select>'
    elif one.kind == FieldKind.TEXTAREA:
        control = (
            f'<textarea id="ls-{name}" name="{name}" maxlength="{one.max_length}"{required}{described}>'
            f"{html.escape(text)}</textarea>"
        )
    else:
        kind = {FieldKind.EMAIL: "email", FieldKind.PHONE: "tel"}.get(one.kind, "text")
        control = (
            f'<input id="ls-{name}" type="{kind}" name="{name}" value="{_attr(text)}" '
            f'maxlength="{one.max_length}"{required}{described}>'
        )
    return f'<div class="ls-field"><label for="ls-{name}">{label}</label>{control}{error_html}</div>'


# --- redirects ---------------------------------------------------------------------------------------
def redirect_allowed(url: str, allowed_origins: Iterable[str]) -> bool:
    """A thank-you redirect goes to a path of this site or to one of the source's allowed origins
    (https only, globs like https://*.example.com work; `*` alone allows nothing here)."""
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return True
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or parts.username or parts.password:
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return any(
        pattern.strip() not in ("", "*") and fnmatchcase(origin, pattern.strip().lower())
        for pattern in allowed_origins
    )


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme == "https" and parts.netloc else None
