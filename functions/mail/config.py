"""Email configuration, parsed once from the environment (template.yaml sets it per function).

Apart from the shared `Settings` so that only the functions that send or track email carry it. A function
that needs a value calls the matching `require_*` at cold start, so a missing one fails there, not on the
first recipient.
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from leadstream.models import Model
from leadstream.settings import ConfigurationError, load

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class EmailSettings(Model, frozen=True):
    # Secrets Manager secret (ARN or name) holding the key that signs tracking links.
    link_key_secret: str | None = Field(alias="EMAIL_LINK_KEY_SECRET", default=None, min_length=1)
    # Where open, click and unsubscribe links point: the API's URL (or a custom domain in front of it).
    tracking_base_url: str | None = Field(alias="EMAIL_TRACKING_BASE_URL", default=None)
    from_address: str | None = Field(alias="EMAIL_FROM_ADDRESS", default=None)
    from_name: str = Field(alias="EMAIL_FROM_NAME", default="")
    # The sender's postal address: the law (CAN-SPAM and others) wants it in every marketing email.
    postal_address: str | None = Field(alias="EMAIL_POSTAL_ADDRESS", default=None)
    configuration_set: str | None = Field(alias="SES_CONFIGURATION_SET", default=None)
    # Where producers of marketing email (campaign fan-out, journey steps) put one request per recipient.
    send_queue_url: str | None = Field(alias="EMAIL_SEND_QUEUE_URL", default=None)
    # Most marketing emails one person gets per ISO week (0: no cap).
    weekly_cap: int = Field(alias="EMAIL_WEEKLY_CAP", default=3, ge=0)
    # SES sends per second for the whole stack (0: unpaced), shared by at most `sender_concurrency`
    # concurrent sender invocations (the SQS event source's MaximumConcurrency).
    send_rate: float = Field(alias="EMAIL_SEND_RATE", default=10.0, ge=0)
    sender_concurrency: int = Field(alias="EMAIL_SENDER_CONCURRENCY", default=2, ge=1)
    # A send claim older than this, with no SES "Send" event seen, is taken to have failed before SES
    # accepted it (docs/email.md, "Exactly one email per recipient").
    send_lease_seconds: int = Field(alias="EMAIL_SEND_LEASE_SECONDS", default=600, ge=60)
    # Opens and clicks this soon after sending or delivery come from link scanners, not people.
    scanner_window_seconds: float = Field(alias="EMAIL_SCANNER_WINDOW_SECONDS", default=10.0, ge=0)
    scanner_ip_ranges: tuple[IpNetwork, ...] = Field(alias="EMAIL_SCANNER_IP_RANGES", default=())

    @field_validator(
        "tracking_base_url", "from_address", "postal_address", "configuration_set", "send_queue_url"
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip().rstrip("/") if value and value.strip() else None

    @field_validator("scanner_ip_ranges", mode="before")
    @classmethod
    def _split_ranges(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(
                ipaddress.ip_network(part.strip(), strict=False)
                for part in value.replace(",", " ").split()
                if part.strip()
            )
        return value

    def require_link_key_secret(self) -> str:
        return _required(self.link_key_secret, "EMAIL_LINK_KEY_SECRET")

    def require_tracking_base_url(self) -> str:
        return _required(self.tracking_base_url, "EMAIL_TRACKING_BASE_URL")

    def require_send_queue_url(self) -> str:
        return _required(self.send_queue_url, "EMAIL_SEND_QUEUE_URL")

    def require_sender(self) -> tuple[str, str]:
        """(From address, postal address): what every marketing email must carry."""
        return (
            _required(self.from_address, "EMAIL_FROM_ADDRESS"),
            _required(self.postal_address, "EMAIL_POSTAL_ADDRESS"),
        )


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ConfigurationError(f"invalid Leadstream email configuration: {name} is not set")
    return value


def get_email_settings() -> EmailSettings:
    return load(EmailSettings)
