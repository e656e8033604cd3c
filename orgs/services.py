from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from orgs.models import ApiToken, AuditEntry, IdempotentRequest, Org, hash_token

Action = AuditEntry.Action


def actor_identity(actor: Any) -> tuple[Any, ApiToken | None, str]:
    """(user, token, name) of who did something: a Django user, an ApiToken or the API's request.user
    (which carries one), or None for Herald itself (a command, a task)."""
    token = actor if isinstance(actor, ApiToken) else getattr(actor, "token", None)
    if isinstance(token, ApiToken):
        return None, token, f"API token {token.name} ({token.prefix}…)"
    if actor is not None:
        return actor, None, actor.get_username()
    return None, None, "Herald"


def audit_entry(*, actor: Any, action: str, obj: models.Model, summary: str = "") -> AuditEntry:
    """An unsaved audit entry, for callers that write many at once with bulk_create.

    `actor` is who did it: a Django user (the admin), an ApiToken or the API's request.user (which
    carries one), or None for Herald itself (a command, a task). `obj` must belong to an org.
    """
    user, token, name = actor_identity(actor)
    return AuditEntry(
        org_id=obj.org_id if not isinstance(obj, Org) else obj.pk, user=user, token=token, actor=name[:200],
        action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk), summary=summary[:500],
    )  # fmt: skip


def audit_record(*, actor: Any, action: str, obj: models.Model, summary: str = "") -> AuditEntry:
    """Log a staff action that matters; the service that does the action calls this, whoever asked for it."""
    entry = audit_entry(actor=actor, action=action, obj=obj, summary=summary)
    entry.save()
    return entry


def token_create(
    *, org: Org, name: str, scopes: list[str] | None = None, test: bool = False, actor: Any = None
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is not stored and cannot be shown again.

    A test token (`test=True`) works like any other, but what it sends never reaches a provider.
    """
    scopes = list(ApiToken.DEFAULT_SCOPES if scopes is None else scopes)
    unknown = set(scopes) - set(ApiToken.ALL_SCOPES)
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(sorted(unknown))}")
    secret = ApiToken.generate_secret()
    with transaction.atomic():
        token = ApiToken.objects.create(
            org=org, name=name, scopes=scopes, test=test, prefix=secret[:12], hashed=hash_token(secret)
        )
        audit_record(actor=actor, action=Action.TOKEN_CREATED, obj=token, summary=_token_summary(token))
    return token, secret


def _token_summary(token: ApiToken) -> str:
    return f"{token.name} ({token.prefix}…), scopes {', '.join(token.scopes)}"


@transaction.atomic
def org_create(*, name: str, test: bool = False, actor: Any = None) -> tuple[Org, str]:
    org = Org.objects.create(name=name)
    _, secret = token_create(
        org=org, name="first test token" if test else "first token", test=test, actor=actor
    )
    return org, secret


def token_revoke(*, token: ApiToken, actor: Any = None) -> bool:
    """Revoke a token; True if this call revoked it (a token revoked already stays as it was)."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            audit_record(actor=actor, action=Action.TOKEN_REVOKED, obj=token, summary=_token_summary(token))
    return bool(revoked)


def token_authenticate(*, secret: str) -> ApiToken | None:
    token = (
        ApiToken.objects.select_related("org")
        .filter(hashed=hash_token(secret), revoked_at__isnull=True)
        .first()
    )
    if token is not None:
        # Cheap and good enough for "is this token still used?"; not worth a write on every request.
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def idempotent_requests_purge() -> int:
    """Forget the answers to keyed writes older than HERALD_IDEMPOTENCY_HOURS: their keys are free again."""
    cutoff = timezone.now() - timedelta(hours=settings.HERALD_IDEMPOTENCY_HOURS)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted
