"""Mailing history: each saved change is a version (who, when, what), any version can be restored."""

import difflib
import json

from django.db import transaction
from django.db.models import F

from mailings.models import Mailing, MailingVersion
from orgs.models import AuditEntry
from orgs.services import audit_record

VERSIONED_FIELDS = [
    "name", "channel", "from_email", "reply_to", "subject", "text", "html", "default_locale", "translations",
    "context_schema", "sample_context",
]  # fmt: skip


def mailing_snapshot(mailing: Mailing) -> dict:
    return {name: getattr(mailing, name) for name in VERSIONED_FIELDS}


def mailing_version_record(*, mailing: Mailing, saved_by=None, source: str = "") -> MailingVersion | None:
    """Record the mailing as it is now saved, unless that is its latest version already (None then)."""
    with transaction.atomic():
        # The row lock orders two saves of one mailing: each gets its own number.
        locked = Mailing.objects.select_for_update().only("version").get(pk=mailing.pk)
        latest = mailing.versions.filter(number=locked.version).first()
        snapshot = mailing_snapshot(mailing)
        if latest is not None and latest.content == snapshot:
            return None
        Mailing.objects.filter(pk=mailing.pk).update(version=F("version") + 1)
        mailing.version = locked.version + 1
        return MailingVersion.objects.create(
            mailing=mailing, number=mailing.version, content=snapshot, saved_by=saved_by, source=source
        )


def mailing_version_restore(*, version: MailingVersion, saved_by=None) -> MailingVersion | None:
    """Put a version's content back as the mailing's own: that is a new version, saying so."""
    mailing = version.mailing
    for name, value in version.content.items():
        if name in VERSIONED_FIELDS:
            setattr(mailing, name, value)
    with transaction.atomic():
        mailing.save()
        restored = mailing_version_record(
            mailing=mailing, saved_by=saved_by, source=f"restored version {version.number}"
        )
        if restored is not None:
            audit_record(
                actor=saved_by, action=AuditEntry.Action.MAILING_CHANGED, obj=mailing,
                summary=f"{mailing.name}: restored version {version.number}",
            )  # fmt: skip
    return restored


def version_diff(older: dict | None, newer: dict) -> list[tuple[str, list[str]]]:
    """(field, unified diff lines) for each field that differs between two snapshots."""
    changes = []
    for name in VERSIONED_FIELDS:
        before, after = _lines((older or {}).get(name, "")), _lines(newer.get(name, ""))
        if before != after:
            diff = difflib.unified_diff(before, after, "before", "after", lineterm="", n=2)
            changes.append((name, list(diff)[2:]))  # without the ---/+++ header
    return changes


def _lines(value) -> list[str]:
    if not isinstance(value, str):
        value = "" if value is None else json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return value.splitlines()
