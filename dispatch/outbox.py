"""The default email backend: one .eml file per message in an outbox folder, for development and tests."""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend


class OutboxEmailBackend(BaseEmailBackend):
    def __init__(self, *args, outbox_dir: str | Path | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.outbox_dir = Path(outbox_dir or settings.HERALD_OUTBOX_DIR)

    def send_messages(self, email_messages) -> int:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            # Write to a temporary name, then rename: a reader never sees half a message.
            name = f"{uuid.uuid4().hex}.eml"
            partial = self.outbox_dir / f".{name}.part"
            partial.write_bytes(message.message().as_bytes(linesep="\n"))
            partial.rename(self.outbox_dir / name)
        return len(email_messages)
