"""SMS backends, chosen by settings.SMS_BACKEND like Django's email backends.

A backend's send() returns the provider's message id, or raises SMSSendError with the provider's HTTP
status (dispatch.channels tells a retryable one from a final one by it), or an OSError for the network.
"""

import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass
class SMSMessage:
    to: str
    body: str
    sender: str = ""
    reference: str = ""
    provider_message_id: str = field(default="")


class SMSSendError(Exception):
    """The provider refused the message; `status_code` is its HTTP status, None when it gave none."""

    def __init__(self, message: str, *, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class BaseSMSBackend:
    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, message: SMSMessage) -> str:
        """Send one message and return the provider's id for it."""
        raise NotImplementedError


class OutboxSMSBackend(BaseSMSBackend):
    """Writes each message as a JSON file into the outbox folder, beside the .eml files."""

    def __init__(self, outbox_dir: str | Path | None = None):
        self.outbox_dir = Path(outbox_dir or settings.HERALD_OUTBOX_DIR)

    def send(self, message: SMSMessage) -> str:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        message.provider_message_id = f"sms-{uuid.uuid4().hex}"
        partial = self.outbox_dir / f".{message.provider_message_id}.part"
        partial.write_text(json.dumps(asdict(message), ensure_ascii=False))
        partial.rename(self.outbox_dir / f"{message.provider_message_id}.json")
        return message.provider_message_id


outbox: list[SMSMessage] = []


class LocMemSMSBackend(BaseSMSBackend):
    """Keeps messages in `dispatch.sms.outbox`, for tests."""

    def send(self, message: SMSMessage) -> str:
        message.provider_message_id = f"sms-{uuid.uuid4().hex}"
        outbox.append(message)
        return message.provider_message_id


def get_sms_connection() -> BaseSMSBackend:
    return import_string(settings.SMS_BACKEND)()
