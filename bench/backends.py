"""The provider every benchmark delivers to: Anymail's test backend, minus its outbox."""

import itertools
import os

from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.message import AnymailRecipientStatus

_message_numbers = itertools.count(1)


class CountingEmailBackend(AnymailTestBackend):
    """Builds Anymail's payload like any Anymail backend, then counts the message and drops it.

    Anymail's own test backend appends every message to `mail.outbox` and finds its id with
    `outbox.index(message)`, so it slows down and grows as a benchmark runs; this one keeps nothing.
    """

    sent = 0  # messages handed to this process's backends

    def post_to_esp(self, payload, message):
        number = next(_message_numbers)
        CountingEmailBackend.sent = number
        status = AnymailRecipientStatus(message_id=f"bench-{os.getpid()}-{number}", status="sent")
        return {"recipient_status": {email: status for email in payload.recipient_emails}}
