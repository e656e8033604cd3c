from django.db import transaction
from django.utils import timezone

from .models import ApiToken, Org, hash_token


def token_create(
    *, org: Org, name: str, scopes: list[str] | None = None, test: bool = False
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is not stored and cannot be shown again.

    A test token (`test=True`) works like any other, but what it sends never reaches a provider.
    """
    scopes = list(ApiToken.ALL_SCOPES if scopes is None else scopes)
    unknown = set(scopes) - set(ApiToken.ALL_SCOPES)
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(sorted(unknown))}")
    secret = ApiToken.generate_secret()
    token = ApiToken.objects.create(
        org=org, name=name, scopes=scopes, test=test, prefix=secret[:12], hashed=hash_token(secret)
    )
    return token, secret


@transaction.atomic
def org_create(*, name: str, test: bool = False) -> tuple[Org, str]:
    org = Org.objects.create(name=name)
    _, secret = token_create(org=org, name="first test token" if test else "first token", test=test)
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
