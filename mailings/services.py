"""Writes about mailings: one function per use case."""

from typing import Any

from django.db import transaction

from orgs.models import AuditEntry
from orgs.services import actor_identity, audit_record

from .models import Mailing
from .versions import mailing_version_record


def mailing_delete(*, mailing: Mailing, actor: Any = None) -> None:
    """Delete a mailing, and log it; a mailing a campaign sends is protected (models.ProtectedError)."""
    with transaction.atomic():
        summary = f"{mailing.name} deleted"
        audit_record(actor=actor, action=AuditEntry.Action.MAILING_DELETED, obj=mailing, summary=summary)
        mailing.delete()


def mailing_update(*, mailing: Mailing, changes: dict[str, Any], actor: Any = None) -> Mailing:
    """Change a mailing (already validated): a new version, and an audit entry naming the changed fields."""
    for name, value in changes.items():
        setattr(mailing, name, value)
    with transaction.atomic():
        stored = Mailing.objects.select_for_update().get(pk=mailing.pk)
        changed = sorted(name for name, value in changes.items() if getattr(stored, name) != value)
        mailing.save()
        user, _, name = actor_identity(actor)
        mailing_version_record(mailing=mailing, saved_by=user, source="admin" if user else name)
        if changed:
            audit_record(
                actor=actor, action=AuditEntry.Action.MAILING_CHANGED, obj=mailing,
                summary=f"{mailing.name}: changed {', '.join(changed)}",
            )  # fmt: skip
    return mailing
