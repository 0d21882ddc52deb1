"""The website's documents as marketers write them (the bodies of the /marketing/... routes) and as they
are stored: forms, landing pages, assets, dynamic slots, pop-ups. docs/website.md describes each field.

Every document is versioned like the other marketing documents (ETag / If-Match on a change); pages and
assets also carry a lifecycle (published / unpublished; draft / published / archived).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from leadstream.models import Model
from leadstream.numbers import StorableInt
from tracking.sources import FORM_PURPOSE_PATTERN

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
FIELD_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
MAX_TEMPLATE_CHARS = 100_000
MAX_FIELDS = 30
MAX_BLOCKS = 50
MAX_VARIANTS = 10
MAX_OPTIONS = 100
MAX_PATTERN_CHARS = 200
MAX_ASSET_BYTES = 200 * 1024 * 1024
_CONTENT_TYPE = r"^[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,63}/[a-zA-Z0-9][a-zA-Z0-9!#$&^_.+-]{0,126}$"
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")

Id = Annotated[str, Field(pattern=ID_PATTERN, description="lower case letters, digits and dashes")]
Text = Annotated[str, Field(max_length=2000)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class _Body(Model):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid")


class _Stored(Model):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")


# --- forms ---------------------------------------------------------------------------------------------
class FieldKind(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    SELECT = "select"
    CHECKBOX = "checkbox"
    HIDDEN = "hidden"
    CONSENT = "consent"
    TEXTAREA = "textarea"


class FormField(_Body):
    name: str = Field(pattern=FIELD_NAME_PATTERN, description="the posted field name")
    label: ShortText
    kind: FieldKind = FieldKind.TEXT
    required: bool = False
    options: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=MAX_OPTIONS, description="the choices of a select"
    )
    pattern: str | None = Field(
        default=None, max_length=MAX_PATTERN_CHARS, description="a regular expression the whole value matches"
    )
    pattern_message: str | None = Field(default=None, alias="patternMessage", max_length=200)
    min_length: StorableInt | None = Field(default=None, alias="minLength", ge=0, le=2000)
    max_length: StorableInt = Field(default=500, alias="maxLength", ge=1, le=2000)
    # The profile trait this field fills (firstName, company ...); progressive profiling skips the field
    # for a known person who has it. Default: the field's name.
    trait: str | None = Field(default=None, max_length=64)
    progressive: bool = Field(
        default=False, description="ask only people whose profile lacks this field's trait"
    )
    value: str | None = Field(default=None, max_length=500, description="a hidden field's fixed value")
    purpose: str | None = Field(
        default=None, pattern=FORM_PURPOSE_PATTERN,
        description="a consent field's purpose: `email` (the default) or `topic:<topicId>`; ticked, it "
        "records that consent with the label as its text",
    )  # fmt: skip

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return pattern

    @model_validator(mode="after")
    def _options(self) -> FormField:
        if self.kind == FieldKind.SELECT and not self.options:
            raise ValueError("a select field needs options")
        if self.purpose is not None and self.kind != FieldKind.CONSENT:
            raise ValueError("only a consent field has a purpose")
        return self

    @property
    def consent_purpose(self) -> str:
        return self.purpose or "email"

    @property
    def trait_name(self) -> str:
        return self.trait or self.name


class FormContent(_Body):
    name: ShortText
    source_id: str = Field(
        alias="sourceId",
        min_length=1,
        max_length=100,
        description="the source (website) its events belong to",
    )
    fields: list[FormField] = Field(min_length=1, max_length=MAX_FIELDS)
    submit_label: str = Field(default="Submit", alias="submitLabel", min_length=1, max_length=100)
    thank_you_message: str = Field(
        default="Thank you!", alias="thankYouMessage", min_length=1, max_length=2000
    )
    redirect_url: str | None = Field(
        default=None,
        alias="redirectUrl",
        max_length=2000,
        description="after a valid submission: a path on this site (/p/...) or an https URL of one of the "
        "source's allowed origins",
    )
    max_visible_fields: StorableInt | None = Field(
        default=None, alias="maxVisibleFields", ge=1, le=MAX_FIELDS,
        description="progressive profiling: ask at most this many fields at once",
    )  # fmt: skip
    notify_email: str | None = Field(
        default=None, alias="notifyEmail", max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="an owner told by email of each submission",
    )  # fmt: skip
    hand_raiser: bool = Field(default=False, alias="handRaiser")

    @model_validator(mode="after")
    def _one_email(self) -> FormContent:
        names = [field.name for field in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("field names must be unique")
        if sum(1 for field in self.fields if field.kind == FieldKind.EMAIL) != 1:
            raise ValueError("a form needs exactly one field of kind email (it identifies the person)")
        return self

    @property
    def email_field(self) -> FormField:
        return next(field for field in self.fields if field.kind == FieldKind.EMAIL)


class WebForm(FormContent):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    form_id: str = Field(alias="formId")
    version: int = Field(ge=1)
    updated_at: AwareDatetime = Field(alias="updatedAt")
    updated_by: str = Field(alias="updatedBy")


class FormCreate(FormContent):
    form_id: str = Field(alias="formId", pattern=ID_PATTERN)


# --- landing pages ---------------------------------------------------------------------------------------
class BlockKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    FORM = "form"
    ASSET = "asset"
    SLOT = "slot"


class Block(_Body):
    kind: BlockKind
    html: str | None = Field(
        default=None, max_length=MAX_TEMPLATE_CHARS, description="text: a sandboxed template (email syntax)"
    )
    url: str | None = Field(default=None, max_length=2000, description="image: its https URL")
    alt: str | None = Field(default=None, max_length=500)
    form_id: str | None = Field(default=None, alias="formId", pattern=ID_PATTERN)
    asset_id: str | None = Field(default=None, alias="assetId", pattern=ID_PATTERN)
    slot_id: str | None = Field(default=None, alias="slotId", pattern=ID_PATTERN)
    label: str | None = Field(default=None, max_length=200, description="asset: the button's label")

    @model_validator(mode="after")
    def _needs(self) -> Block:
        needed = {
            BlockKind.TEXT: ("html", self.html),
            BlockKind.IMAGE: ("url", self.url),
            BlockKind.FORM: ("formId", self.form_id),
            BlockKind.ASSET: ("assetId", self.asset_id),
            BlockKind.SLOT: ("slotId", self.slot_id),
        }[self.kind]
        if not needed[1]:
            raise ValueError(f"a {self.kind.value} block needs {needed[0]}")
        if self.kind == BlockKind.IMAGE and not (self.url or "").startswith(("https://", "/")):
            raise ValueError("an image url is https:// or a path on this site")
        return self


class PageVariant(_Body):
    """One arm of a page A/B test: its own title and blocks (the page's template is shared)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
    weight: StorableInt = Field(default=1, ge=1, le=100)
    title: str | None = Field(default=None, max_length=200)
    blocks: list[Block] = Field(min_length=1, max_length=MAX_BLOCKS)


class ConversionKind(StrEnum):
    FORM = "form"
    ASSET = "asset"
    EVENT = "event"


class PageTest(_Body):
    variants: list[PageVariant] = Field(min_length=2, max_length=MAX_VARIANTS)
    conversion: ConversionKind = ConversionKind.FORM
    conversion_event: str | None = Field(default=None, alias="conversionEvent", max_length=200)
    confidence: float = Field(default=0.95, ge=0.5, le=0.999)
    min_sample: StorableInt = Field(default=30, alias="minSample", ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _event(self) -> PageTest:
        if self.conversion == ConversionKind.EVENT and not self.conversion_event:
            raise ValueError("an event conversion needs conversionEvent")
        if len({variant.name for variant in self.variants}) != len(self.variants):
            raise ValueError("variant names must be unique")
        return self


DEFAULT_PAGE_TEMPLATE = '<main class="ls-page">{% for block in blocks %}{{ block }}{% endfor %}</main>'


class PageContent(_Body):
    title: ShortText
    description: str | None = Field(default=None, max_length=500)
    source_id: str = Field(alias="sourceId", min_length=1, max_length=100)
    og_image: str | None = Field(default=None, alias="ogImage", max_length=2000, pattern=r"^https://")
    template: str = Field(
        default=DEFAULT_PAGE_TEMPLATE,
        max_length=MAX_TEMPLATE_CHARS,
        description="a sandboxed template (email syntax); `blocks` holds the rendered blocks",
    )
    blocks: list[Block] = Field(default_factory=list, max_length=MAX_BLOCKS)
    test: PageTest | None = None


class PageCreate(PageContent):
    slug: str = Field(pattern=ID_PATTERN)


class Page(PageContent):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    slug: str
    version: int = Field(ge=1)
    published_version: int | None = Field(default=None, alias="publishedVersion")
    updated_at: AwareDatetime = Field(alias="updatedAt")
    updated_by: str = Field(alias="updatedBy")


# --- assets ------------------------------------------------------------------------------------------
class AssetState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class FileInput(_Body):
    file_name: str = Field(alias="fileName", min_length=1, max_length=255)
    content_type: str = Field(alias="contentType", pattern=_CONTENT_TYPE)
    size: StorableInt = Field(ge=1, le=MAX_ASSET_BYTES, description="bytes; the upload must match it")

    @field_validator("file_name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if _UNSAFE_NAME.search(name) or name.strip() in {"", ".", ".."}:
            raise ValueError("a file name without slashes or control characters, e.g. guide.pdf")
        return name.strip()


class AssetContent(_Body):
    title: ShortText
    description: str | None = Field(default=None, max_length=2000)
    source_id: str = Field(alias="sourceId", min_length=1, max_length=100)
    gated_by: str | None = Field(
        default=None, alias="gatedBy", pattern=ID_PATTERN,
        description="the slug of the landing page whose form unlocks it; none: open to anyone",
    )  # fmt: skip
    review_by: date | None = Field(default=None, alias="reviewBy")
    expires_at: AwareDatetime | None = Field(default=None, alias="expiresAt")


class AssetCreate(AssetContent):
    asset_id: str = Field(alias="assetId", pattern=ID_PATTERN)
    file: FileInput


class AssetVersion(_Stored):
    number: int
    file_name: str = Field(alias="fileName")
    content_type: str = Field(alias="contentType")
    size: int
    object_key: str = Field(alias="objectKey")
    created_at: AwareDatetime = Field(alias="createdAt")


class Asset(AssetContent):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    asset_id: str = Field(alias="assetId")
    version: int = Field(ge=1)
    state: AssetState = AssetState.DRAFT
    files: list[AssetVersion] = Field(default_factory=list)
    current_file: int = Field(alias="currentFile", ge=1)
    updated_at: AwareDatetime = Field(alias="updatedAt")
    updated_by: str = Field(alias="updatedBy")

    @property
    def file(self) -> AssetVersion:
        return next(file for file in self.files if file.number == self.current_file)

    def servable(self, now: datetime) -> bool:
        """Published and not past its expiry: `GET /a/{assetId}` hands it out."""
        return self.state == AssetState.PUBLISHED and (self.expires_at is None or now < self.expires_at)

    def needs_review(self, now: datetime) -> bool:
        return self.review_by is not None and self.review_by <= now.date()


# --- dynamic content -------------------------------------------------------------------------------------
class Audience(_Body):
    """Who a slot variant or a pop-up is for; every condition given must hold (none: everyone)."""

    segment_id: str | None = Field(default=None, alias="segmentId", max_length=100)
    stage: str | None = Field(default=None, max_length=50)
    tag: str | None = Field(default=None, max_length=100)
    anonymous_only: bool = Field(default=False, alias="anonymousOnly")
    known_only: bool = Field(default=False, alias="knownOnly")


class SlotVariant(_Body):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
    audience: Audience
    html: str = Field(min_length=1, max_length=MAX_TEMPLATE_CHARS)


class SlotContent(_Body):
    name: ShortText
    variants: list[SlotVariant] = Field(default_factory=list, max_length=MAX_VARIANTS)
    default_html: str = Field(alias="defaultHtml", max_length=MAX_TEMPLATE_CHARS)


class SlotCreate(SlotContent):
    slot_id: str = Field(alias="slotId", pattern=ID_PATTERN)


class Slot(SlotContent):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    slot_id: str = Field(alias="slotId")
    version: int = Field(ge=1)
    updated_at: AwareDatetime = Field(alias="updatedAt")
    updated_by: str = Field(alias="updatedBy")


class PopupKind(StrEnum):
    FORM = "form"
    NOTICE = "notice"
    LINK = "link"


class TriggerKind(StrEnum):
    TIME = "time"
    SCROLL = "scroll"
    EXIT = "exit"
    URL = "url"


class Trigger(_Body):
    kind: TriggerKind
    seconds: StorableInt | None = Field(default=None, ge=0, le=3600, description="time: seconds on the page")
    percent: StorableInt | None = Field(default=None, ge=1, le=100, description="scroll: depth reached")

    @model_validator(mode="after")
    def _value(self) -> Trigger:
        if self.kind == TriggerKind.TIME and self.seconds is None:
            raise ValueError("a time trigger needs seconds")
        if self.kind == TriggerKind.SCROLL and self.percent is None:
            raise ValueError("a scroll trigger needs percent")
        return self


class Cap(_Body):
    times: StorableInt = Field(default=1, ge=1, le=1000, description="impressions per visitor")
    per_days: StorableInt = Field(default=30, alias="perDays", ge=1, le=3650)


class PopupContent(_Body):
    name: ShortText
    kind: PopupKind
    html: str = Field(default="", max_length=MAX_TEMPLATE_CHARS, description="a sandboxed template")
    form_id: str | None = Field(default=None, alias="formId", pattern=ID_PATTERN)
    link_url: str | None = Field(default=None, alias="linkUrl", max_length=2000, pattern=r"^(https://|/)")
    link_label: str | None = Field(default=None, alias="linkLabel", max_length=200)
    trigger: Trigger
    url_pattern: str = Field(
        default="*", alias="urlPattern", max_length=500, description="a glob over the page URL"
    )
    audience: Audience = Field(default_factory=Audience)
    cap: Cap = Field(default_factory=Cap)
    active: bool = True

    @model_validator(mode="after")
    def _kind(self) -> PopupContent:
        if self.kind == PopupKind.FORM and not self.form_id:
            raise ValueError("a form pop-up needs formId")
        if self.kind == PopupKind.LINK and not self.link_url:
            raise ValueError("a link pop-up needs linkUrl")
        return self


class PopupCreate(PopupContent):
    popup_id: str = Field(alias="popupId", pattern=ID_PATTERN)


class Popup(PopupContent):
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    popup_id: str = Field(alias="popupId")
    version: int = Field(ge=1)
    updated_at: AwareDatetime = Field(alias="updatedAt")
    updated_by: str = Field(alias="updatedBy")


# --- reports ---------------------------------------------------------------------------------------------
class Counts(_Stored):
    counts: dict[str, int] = Field(default_factory=dict)


class PageVariantReport(_Stored):
    variant: str
    views: int
    conversions: int
    rate: float


class PageTestReport(_Stored):
    slug: str
    conversion: str
    variants: list[PageVariantReport]
    winner: str | None
    confidence: float | None
    reason: str


def dump(model: Model) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
