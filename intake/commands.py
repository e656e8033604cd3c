"""The trigger command every API speaks in: the native API and each vendor dialect build one of these."""

import base64
import binascii
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from core.errors import Problem


@dataclass
class RecipientSpec:
    """One recipient of a trigger: an existing one by `id`, or found (or created) by an address."""

    id: int | None = None
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    timezone: str | None = None
    attributes: dict | None = None
    context: Any = None


@dataclass
class AttachmentSpec:
    filename: str
    content_type: str
    content: str  # base64


@dataclass
class TriggerCommand:
    recipients: list[RecipientSpec]
    context: Any = None
    channel: str | None = None
    locale: str | None = None
    delay: int | None = None
    send_at: datetime | None = None
    expires_at: datetime | None = None
    attachments: list[AttachmentSpec] = field(default_factory=list)
    from_email: str | None = None
    metadata: dict = field(default_factory=dict)
    reference: str = ""
    cancellation_key: str = ""
    dedup_key: str = ""
    source: str = "api"


def sanitize_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in '"<>:|?*')
    name = name.strip(" .")[:200]
    return name or "attachment"


def check_attachments(attachments: list[AttachmentSpec], field_name: str = "attachments") -> list[Problem]:
    problems = []
    if len(attachments) > settings.HERALD_MAX_ATTACHMENTS:
        problems.append(Problem(field_name, f"At most {settings.HERALD_MAX_ATTACHMENTS} attachments."))
    total = 0
    for i, attachment in enumerate(attachments):
        try:
            total += len(base64.b64decode(attachment.content, validate=True))
        except (binascii.Error, ValueError):
            problems.append(Problem(f"{field_name}[{i}].content", "Not valid base64."))
        if "/" not in (attachment.content_type or ""):
            problems.append(Problem(f"{field_name}[{i}].content_type", "Not a MIME type such as text/csv."))
        attachment.filename = sanitize_filename(attachment.filename)
    if total > settings.HERALD_MAX_ATTACHMENT_BYTES:
        problems.append(
            Problem(
                field_name,
                f"Attachments total {total} bytes; at most {settings.HERALD_MAX_ATTACHMENT_BYTES}.",
            )
        )
    return problems
