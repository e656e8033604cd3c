"""API authentication: a bearer token (or HTTP Basic with the token as password) names an org and scopes."""

import base64
from dataclasses import dataclass

from rest_framework import authentication, exceptions, permissions

from orgs.auth_failures import AuthFailures
from orgs.models import ApiToken, Org
from orgs.services import token_authenticate


@dataclass(frozen=True)
class ApiClient:
    """What `request.user` is for an API request: the token's org, never a Django user."""

    token: ApiToken

    is_authenticated = True
    is_anonymous = False

    @property
    def org(self) -> Org:
        return self.token.org


def client_for_secret(secret: str) -> ApiClient:
    token = token_authenticate(secret=secret)
    if token is None:
        raise exceptions.AuthenticationFailed("The API token is not valid.")
    return ApiClient(token=token)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        wait = AuthFailures.wait(request)
        if wait is not None:
            raise exceptions.Throttled(wait, "Too many failed authentications from this address.")
        try:
            return self._authenticate(request)
        except exceptions.AuthenticationFailed:
            AuthFailures.record(request)
            raise

    def _authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and value.strip():
            secret = value.strip()
        elif scheme == "basic" and value.strip():
            try:
                decoded = base64.b64decode(value.strip()).decode()
            except (ValueError, UnicodeDecodeError) as exc:
                raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from exc
            secret = decoded.partition(":")[2]
        else:
            return None
        client = client_for_secret(secret)
        return client, client.token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="herald"'


class HasScope(permissions.BasePermission):
    """Each view names the scope it needs per action in `required_scopes`, or one in `required_scope`."""

    message = "This API token lacks the scope this operation needs."

    def has_permission(self, request, view) -> bool:
        client = request.user
        if not isinstance(client, ApiClient):
            return False
        scope = required_scope(request, view)
        if scope is not None and not client.token.has_scope(scope):
            self.message = f"This API token lacks the '{scope}' scope."
            return False
        return True


def required_scope(request, view) -> str | None:
    scopes = getattr(view, "required_scopes", None)
    if scopes:
        action = getattr(view, "action", None) or request.method.lower()
        if action in scopes:
            return scopes[action]
        return scopes.get("write" if request.method not in permissions.SAFE_METHODS else "read")
    return getattr(view, "required_scope", None)
