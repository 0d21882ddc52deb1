"""Email templates: create, change (a new version each time), archive, list, and preview for a person.

Every save runs `rendering.check`, so a template that does not parse, uses what the sandbox forbids,
breaks a limit on what rendering may cost (mail/template_limits.py), writes a link of an unsafe scheme
(mail/html_links.py) or fails on a typical profile is refused with a 422 that names the part (and line).
A change or an archive is made on the version the caller read (`check_version`: the API's If-Match)
and stored only if that version is still the latest, so two people editing at once cannot silently
overwrite each other.

Campaigns and journeys read the templates they send here (`get_template`, `get_version`, `latest_of`,
`versions_of`), never in mail.store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from leadstream import clock, keys
from leadstream.errors import Conflict, NotFound, PreconditionFailed
from leadstream.profiles import IdentityRef, Profile
from leadstream.store import profiles
from mail import rendering
from mail.link_tokens import LinkSigner
from mail.links import instrument
from mail.store import templates as email_templates
from mail.store.templates import heads, versions
from mail.template_models import EmailTemplate, PreviewRequest, TemplateContent, TemplatePreview


@dataclass(frozen=True)
class TemplateStore:
    save_version: Callable[[EmailTemplate], bool]
    archive: Callable[[EmailTemplate], bool]
    get_template: Callable[[str], EmailTemplate | None]
    get_version: Callable[[str, int], EmailTemplate | None]
    list_templates: Callable[..., tuple[list[EmailTemplate], dict[str, Any] | None]]
    get_profile: Callable[[str], Profile | None]
    profile_by_email: Callable[[str], Profile | None]


def dynamo_store() -> TemplateStore:
    def profile_by_email(email: str) -> Profile | None:
        return profiles.profile_of(IdentityRef(kind="email", value=email.strip().lower()))

    def live_profile(profile_id: str) -> Profile | None:
        profile = profiles.get_profile(profile_id)
        if profile is not None and profile.merged_into:
            return profiles.get_profile(profile.merged_into) or profile
        return profile

    return TemplateStore(
        save_version=email_templates.save_version,
        archive=email_templates.archive,
        get_template=email_templates.get_template,
        get_version=email_templates.get_version,
        list_templates=email_templates.list_templates,
        get_profile=live_profile,
        profile_by_email=profile_by_email,
    )


# --- for other domains ------------------------------------------------------------------------------------
def get_template(template_id: str) -> EmailTemplate | None:
    """The template as it is now (its latest version, archived or not); None if there is none."""
    return email_templates.get_template(template_id)


def get_version(template_id: str, version: int) -> EmailTemplate | None:
    """One version of a template (versions never change once saved); None if there is none."""
    return email_templates.get_version(template_id, version)


def latest_of(template_ids: Iterable[str]) -> dict[str, EmailTemplate]:
    """The templates as they are now, by id (one BatchGetItem per 100); missing ones are absent."""
    return heads(template_ids)


def versions_of(wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], EmailTemplate]:
    """Template versions by (template id, version) (one BatchGetItem per 100); missing ones are absent."""
    return versions(wanted)


@dataclass(frozen=True)
class Templates:
    store: TemplateStore
    now: Callable[[], datetime] = clock.now

    def create(self, content: TemplateContent, *, user: str, new_id: str | None = None) -> EmailTemplate:
        """A new template; its id is made from `new_id` (a UUID; a create retried with the same
        Idempotency-Key has the same one, and then finds the template its first try stored)."""
        rendering.check(content)
        now = self.now()
        template = EmailTemplate.model_validate(
            {
                **content.model_dump(by_alias=True),
                "templateId": keys.short_id("tpl", new_id),
                "version": 1,
                "createdAt": now,
                "updatedAt": now,
                "createdBy": user,
                "updatedBy": user,
            }
        )
        if self.store.save_version(template):
            return template
        earlier = self.store.get_template(template.template_id)
        if earlier is None or earlier.created_by != user:
            raise Conflict(f"Template id {template.template_id} is taken; retry with a new Idempotency-Key.")
        return earlier

    def get(self, template_id: str, version: int | None = None) -> EmailTemplate:
        template = (
            self.store.get_version(template_id, version)
            if version is not None
            else self.store.get_template(template_id)
        )
        if template is None:
            which = f"version {version} of " if version is not None else ""
            raise NotFound(f"There is no {which}template {template_id!r}.")
        return template

    def update(
        self, template_id: str, content: TemplateContent, *, check_version: Callable[[int], None], user: str
    ) -> EmailTemplate:
        current = self.live(template_id)
        check_version(current.version)
        rendering.check(content)
        template = EmailTemplate.model_validate(
            {
                **content.model_dump(by_alias=True),
                "templateId": template_id,
                "version": current.version + 1,
                "createdAt": current.created_at,
                "updatedAt": self.now(),
                "createdBy": current.created_by,
                "updatedBy": user,
            }
        )
        if not self.store.save_version(template):
            raise self._stale(self.live(template_id))
        return template

    def archive(self, template_id: str, *, check_version: Callable[[int], None], user: str) -> None:
        current = self.live(template_id)
        check_version(current.version)
        archived = current.model_copy(update={"archived": True, "updated_at": self.now(), "updated_by": user})
        if not self.store.archive(archived):
            raise self._stale(self.live(template_id))

    def page(self, *, limit: int, start_key: dict[str, Any] | None) -> tuple[list[EmailTemplate], Any]:
        return self.store.list_templates(limit=limit, start_key=start_key)

    def preview(
        self,
        template_id: str,
        request: PreviewRequest,
        *,
        signer: LinkSigner,
        postal_address: str,
        sender: str,
    ) -> TemplatePreview:
        """The email as `request`'s person would get it: every part, the headers, the tracked links.

        Its links are real signed links of a message id that was never sent: they redirect, but record
        nothing and unsubscribe nobody.
        """
        template = self.get(template_id, request.version)
        traits, email = self._person(request)
        message_id = f"preview-{uuid4()}"
        context = rendering.personalization(
            traits, email=email, unsubscribe_url=signer.unsubscribe_url(message_id)
        )
        parts = rendering.render(template, context)
        email_parts = instrument(
            parts,
            signer=signer,
            message_id=message_id,
            postal_address=postal_address,
            sender_name=template.from_name or sender,
        )
        return TemplatePreview(
            template_id=template.template_id,
            version=template.version,
            to=email,
            subject=email_parts.subject,
            html=email_parts.html,
            text=email_parts.text,
            headers=email_parts.headers,
            links=list(email_parts.links),
            removed_urls=list(parts.removed_urls),
        )

    def _person(self, request: PreviewRequest) -> tuple[Mapping[str, Any], str | None]:
        if request.profile_id:
            profile = self.store.get_profile(request.profile_id)
            if profile is None:
                raise NotFound(f"There is no profile {request.profile_id!r}.")
            return profile.traits, profile.email
        if request.email:
            profile = self.store.profile_by_email(request.email)
            if profile is None:
                raise NotFound("No profile has that email address.")
            return profile.traits, profile.email or request.email
        if request.traits is not None:
            traits = request.traits
            email = traits.get("email")
            return traits, email if isinstance(email, str) else None
        return rendering.SAMPLE_TRAITS, str(rendering.SAMPLE_TRAITS["email"])

    def live(self, template_id: str) -> EmailTemplate:
        """The latest version of a template that is not archived (404 otherwise)."""
        current = self.get(template_id)
        if current.archived:
            raise NotFound(f"Template {template_id!r} is archived.")
        return current

    @staticmethod
    def _stale(current: EmailTemplate) -> PreconditionFailed:
        return PreconditionFailed(
            f"The template changed meanwhile: it is at version {current.version} now. Read it again and "
            "re-apply your change."
        )
