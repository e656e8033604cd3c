"""Writes about recipients: one function per use case."""

import logging
from typing import Any

from django.db import transaction

from core.errors import Invalid, Problem
from core.inputs import locale_problem, name_problem
from recipients.models import Recipient

logger = logging.getLogger(__name__)


# A recipient's own fields that callers may write by name, with their lengths; any other name is an attribute.
PROFILE_FIELDS = {"first_name": 150, "last_name": 150, "locale": 35}


def recipient_update_fields(*, recipient: Recipient, fields: dict[str, Any]) -> Recipient:
    """Write named values onto a recipient: first_name, last_name and locale, any other name as an attribute.

    Contact points (email, phone, external id) are not fields here: they identify the recipient.
    """
    problems = []
    for name, value in fields.items():
        if name not in PROFILE_FIELDS:
            continue
        if not (isinstance(value, str) and len(value) <= PROFILE_FIELDS[name]):
            problems.append(Problem(name, f"Must be text of at most {PROFILE_FIELDS[name]} characters."))
        elif problem := (locale_problem(value) if name == "locale" else name_problem(value)):
            # A name ends up in headers and logs, a locale picks a translation: one line, a language tag.
            problems.append(Problem(name, problem))
    if problems:
        raise Invalid("Some fields cannot be written.", problems=problems)
    with transaction.atomic():
        # Locked, so two writes of different attributes at once both land.
        locked = Recipient.objects.select_for_update().get(pk=recipient.pk)
        attributes = dict(locked.attributes)
        for name, value in fields.items():
            if name in PROFILE_FIELDS:
                setattr(locked, name, value)
            else:
                attributes[name] = value
        locked.attributes = attributes
        locked.save(update_fields=[*(n for n in fields if n in PROFILE_FIELDS), "attributes", "updated_at"])
    return locked
