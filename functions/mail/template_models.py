"""Email templates: what marketing writes (subject, HTML and text parts), kept as immutable versions.

Every change makes a new version; a send names the version it renders, so editing a template never
changes an email already queued. The template language is Jinja2 in a sandbox (mail/rendering.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, ConfigDict, Field

from leadstream.models import Model
from leadstream.numbers import StorableIntOrNone

MAX_PART_CHARS = 256 * 1024  # per part; the rendered email is bounded separately
TEMPLATE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"


class TemplateContent(Model):
    """The parts of a template a marketer writes (the body of POST and PUT)."""

    # defer_build (on every model here): validators are built on first use, not at import; the
    # email API imports these models for its route declarations (docs/api.md, "Cold start").
    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=998)
    html: str = Field(min_length=1, max_length=MAX_PART_CHARS)
    # The plain-text part; when omitted it is made from the HTML.
    text: str | None = Field(default=None, max_length=MAX_PART_CHARS)
    # Shown in the inbox after the subject; rendered like the subject.
    preheader: str | None = Field(default=None, max_length=250)
    # Display name of the sender for this template (the address is the stack's).
    from_name: str | None = Field(default=None, alias="fromName", max_length=100)
    description: str | None = Field(default=None, max_length=2000)


class EmailTemplate(TemplateContent):
    """A stored version of a template."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="ignore")

    template_id: str = Field(alias="templateId", min_length=1, max_length=100)
    version: int = Field(ge=1)
    archived: bool = False
    created_at: AwareDatetime = Field(alias="createdAt")
    updated_at: AwareDatetime = Field(alias="updatedAt")
    created_by: str | None = Field(default=None, alias="createdBy")
    updated_by: str | None = Field(default=None, alias="updatedBy")

    def to_json(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


class TemplateSummary(Model):
    """A template in the list (its parts are left out: GET the template for them)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    template_id: str = Field(alias="templateId")
    name: str
    subject: str
    version: int
    updated_at: AwareDatetime = Field(alias="updatedAt")
    updated_by: str | None = Field(default=None, alias="updatedBy")

    @classmethod
    def of(cls, template: EmailTemplate) -> TemplateSummary:
        return cls.model_validate(template.model_dump(include=set(cls.model_fields)))


class PreviewRequest(Model):
    """Whom to render a preview for: a profile (by id or email address), traits typed in, or (none of
    them) a sample person; `version` of the template (default: the latest)."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, extra="forbid")

    profile_id: str | None = Field(default=None, alias="profileId", min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    traits: dict[str, Any] | None = None
    version: StorableIntOrNone = Field(default=None, ge=1)


class TemplatePreview(Model):
    """The email as the person would get it: every part, the headers and the links it tracks."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True, serialize_by_alias=True)

    template_id: str = Field(alias="templateId")
    version: int
    to: str | None = Field(description="the person's address (null: none known)")
    subject: str
    html: str
    text: str
    headers: dict[str, str]
    links: list[str] = Field(description="the URLs the tracked links lead to")
    removed_urls: list[str] = Field(
        alias="removedUrls",
        description="links and images of the person's data removed for an unsafe scheme (javascript: ...)",
    )
