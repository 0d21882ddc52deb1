"""Sources (a website or app with a write key) and forms: who may send us events, from where."""

from __future__ import annotations

from fnmatch import fnmatchcase

from pydantic import ConfigDict, Field, HttpUrl

from leadstream.models import Model

# A form can ask for marketing email and topics; tracking consent is the page's business (the snippet's).
FORM_PURPOSE_PATTERN = r"^(email|topic:[a-z0-9][a-z0-9-]{0,62})$"


class Source(Model):
    model_config = ConfigDict(populate_by_name=True)

    source_id: str = Field(alias="sourceId", min_length=1)
    name: str
    write_key: str = Field(alias="writeKey", min_length=8)
    # Browser origins allowed to send this source's events ("https://*.example.com" globs work).
    # Empty means any origin: server-side senders have none.
    allowed_origins: list[str] = Field(alias="allowedOrigins", default_factory=list)

    def allows_origin(self, origin: str | None) -> bool:
        if origin is None or not self.allowed_origins:
            return True
        return any(fnmatchcase(origin.lower(), pattern.lower()) for pattern in self.allowed_origins)


class FormConsent(Model):
    """A consent checkbox of a form: ticked, it grants `purpose` with `text` (leadstream.consents)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    field: str = Field(min_length=1, max_length=100)
    purpose: str = Field(pattern=FORM_PURPOSE_PATTERN)
    text: str = Field(min_length=1, max_length=1000)


class Form(Model):
    model_config = ConfigDict(populate_by_name=True)

    form_id: str = Field(alias="formId", min_length=1)
    source_id: str = Field(alias="sourceId", min_length=1)
    name: str
    thank_you_url: HttpUrl | None = Field(alias="thankYouUrl", default=None)
    email_field: str = Field(alias="emailField", default="email")
    # Hidden from people by CSS; bots fill every field they see.
    honeypot_field: str = Field(alias="honeypotField", default="website_url")
    # A form that asks for sales contact (demo, contact us): scoring hands the person over at once.
    hand_raiser: bool = Field(alias="handRaiser", default=False)
    # Consent checkboxes: a ticked one records its purpose as granted, source `form` (docs/customer-data.md).
    consents: list[FormConsent] = Field(default_factory=list, max_length=20)
