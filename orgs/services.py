from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import ApiToken, IdempotentRequest, Org, hash_token


def token_create(*, org: Org, name: str, scopes: list[str] | None = None) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is not stored and cannot be shown again."""
    scopes = list(ApiToken.ALL_SCOPES if scopes is None else scopes)
    unknown = set(scopes) - set(ApiToken.ALL_SCOPES)
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(sorted(unknown))}")
    secret = ApiToken.generate_secret()
    token = ApiToken.objects.create(
        org=org, name=name, scopes=scopes, prefix=secret[:12], hashed=hash_token(secret)
    )
    return token, secret


@transaction.atomic
def org_create(*, name: str) -> tuple[Org, str]:
    org = Org.objects.create(name=name)
    _, secret = token_create(org=org, name="first token")
    return org, secret


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


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
