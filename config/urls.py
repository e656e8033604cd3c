from django.contrib import admin
from django.contrib.staticfiles.views import serve as staticfiles_serve
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from config import openapi  # noqa: F401  (registers the API token scheme with the schema generator)
from config.health import HealthView
from config.metrics import metrics_view
from intake.api import CampaignViewSet
from mailings.api import MailingViewSet
from orgs.audit_api import AuditEntryViewSet
from outbound_webhooks.api import WebhookEndpointViewSet
from privacy.api import ErasableRecipientViewSet
from provider_events.org_tracking import provider_tracking
from provider_events.twilio import twilio_status_callback
from provider_events.unsubscribe import unsubscribe
from providers.api import ProviderViewSet
from sends.api import SendViewSet, TriggerViewSet
from suppressions.api import SuppressionViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("mailings", MailingViewSet, basename="mailing")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("triggers", TriggerViewSet, basename="trigger")
router.register("sends", SendViewSet, basename="send")
router.register("recipients", ErasableRecipientViewSet, basename="recipient")
router.register("suppressions", SuppressionViewSet, basename="suppression")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("audit", AuditEntryViewSet, basename="audit")
router.register("providers", ProviderViewSet, basename="provider")


def static_file(request, path: str):
    """An app's static file (the admin's CSS), where no collectstatic put it for WhiteNoise (`make run`).

    A path out of the static folders (`..`) is not there: a 404, where Django's own view raises.
    """
    try:
        return staticfiles_serve(request, path, insecure=True)
    except SuspiciousFileOperation as exc:
        raise Http404("No such static file.") from exc


urlpatterns = [
    path("api/v1/health/", HealthView.as_view(), name="health"),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    # An org's own ESP account posts here, with its own secret; the server's account to Anymail's own URLs.
    path("anymail/providers/<int:provider_id>/tracking/", provider_tracking, name="provider-tracking"),
    path("anymail/", include("anymail.urls")),
    # No trailing slash: RFC 8058 clients post to the URL exactly as the header gives it.
    path("u/<str:token>", unsubscribe, name="unsubscribe"),
    path("sms/twilio/status/", twilio_status_callback, name="twilio-status"),
    path("metrics", metrics_view, name="metrics"),
    re_path(r"^static/(?P<path>.*)$", static_file, name="static"),
    path("", include("dialects.urls")),
]

handler404 = "config.views.not_found"
handler500 = "config.views.internal_error"
