"""The raw MIME message SES sends: multipart/alternative (text, then HTML) with our headers.

A raw message (rather than SES's "simple" content) keeps every header we set, including the one-click
unsubscribe pair, exactly as written. `X-Leadstream-Message-Id` lets SES events (which carry the
message's headers) be matched to the send; `X-SES-CONFIGURATION-SET` names the configuration set as well
as the API parameter does (SES removes X-SES-* headers before delivery).
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from mail.links import InstrumentedEmail

MESSAGE_ID_HEADER = "X-Leadstream-Message-Id"
CONFIGURATION_SET_HEADER = "X-SES-CONFIGURATION-SET"
# Bodies are encoded with 78-character lines; headers are written with SMTP's 998-character limit, so a
# long List-Unsubscribe URL stays one plain line instead of being folded into RFC 2047 encoded words
# (which mail clients do not decode there).
_HEADER_POLICY = SMTP.clone(max_line_length=998)


def build_message(
    email: InstrumentedEmail,
    *,
    message_id: str,
    from_address: str,
    from_name: str,
    to_address: str,
    at: datetime,
    configuration_set: str | None,
) -> bytes:
    message = EmailMessage(policy=SMTP)
    username, _, domain = from_address.partition("@")
    message["From"] = Address(display_name=from_name, username=username, domain=domain)
    message["To"] = to_address
    message["Subject"] = email.subject
    message["Date"] = format_datetime(at)
    message["Message-ID"] = make_msgid(idstring=message_id.replace(":", "."), domain=domain or None)
    message[MESSAGE_ID_HEADER] = message_id
    if configuration_set:
        message[CONFIGURATION_SET_HEADER] = configuration_set
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(email.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message.as_bytes(policy=_HEADER_POLICY)
