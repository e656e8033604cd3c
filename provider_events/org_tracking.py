"""An org's own ESP account posts its delivery events to its own URL, /anymail/providers/<id>/tracking/, with
its own secret: Anymail's view for its kind parses them, and they move only that org's sends. The server's
ANYMAIL_WEBHOOK_SECRET stays the operator's, never handed to an org."""

from contextlib import contextmanager
from contextvars import ContextVar

from anymail.utils import get_request_basic_auth
from django.http import HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from providers.models import Provider
from providers.services import tracking_secret_matches

# The org whose account posted the events now being parsed: read by tracking.on_tracking, which Anymail's
# signal calls in this same request, so it needs no argument Anymail does not pass.
posting_org: ContextVar[int | None] = ContextVar("posting_org", default=None)


@csrf_exempt
@sensitive_variables("presented")
def provider_tracking(request, provider_id: int):
    if request.method == "HEAD":
        return HttpResponse()  # as Anymail's own views: some ESPs check the URL so, without credentials
    provider = Provider.objects.filter(pk=provider_id).first()
    presented = get_request_basic_auth(request)
    # An unknown provider, one that posts no webhooks and a wrong secret are one answer: ids tell nothing.
    if provider is None or not provider.spec.tracking or not tracking_secret_matches(provider, presented):
        response = HttpResponse(
            "Missing or wrong basic auth: give the provider's tracking webhook secret.",
            status=401, content_type="text/plain",
        )  # fmt: skip
        response["WWW-Authenticate"] = 'Basic realm="Herald tracking webhooks"'
        return response
    view = import_string(provider.spec.tracking)(webhook_secret=[presented], **_signing(provider))
    view.setup(request, provider_id=provider_id)
    with _posted_by(provider.org_id):
        return view.dispatch(request)


def _signing(provider: Provider) -> dict[str, str | None]:
    """The keys the kind's view checks signatures with: the account's own, given even where it has none,
    so that the view never falls back on the server's ANYMAIL_* keys, which sign another account's."""
    credentials = provider.credentials
    if provider.kind == "mailgun":
        return {"webhook_signing_key": credentials.get("webhook_signing_key") or credentials["api_key"]}
    if provider.kind == "sendgrid":
        return {"tracking_webhook_verification_key": None}  # its basic auth is the account's check
    return {}


@contextmanager
def _posted_by(org_id: int):
    token = posting_org.set(org_id)
    try:
        yield
    finally:
        posting_org.reset(token)
