import logging

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse

from core.errors import Problem, error_body
from dialects.common import DialectView, oversized_body

NUL = "\x00"
# How long a provider is told to wait before posting a webhook again that Herald cannot yet take.
WEBHOOK_RETRY_AFTER_SECONDS = 300
logger = logging.getLogger(__name__)


class NativeRequestChecksMiddleware:
    """What the native API and the admin refuse before a view reads the request.

    - A body declared larger than HERALD_MAX_REQUEST_BYTES: 413 (Django alone would answer 400).
    - A query parameter holding a NUL character: 400. PostgreSQL cannot store or compare one, so a filter or
      an admin search with it would otherwise end in a database error (a 500). Bodies need no such check:
      DRF's and Django's form fields already refuse NUL characters.

    A vendor dialect's view makes its own checks, in its vendor's error shape (DialectView.initial).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if issubclass(getattr(view_func, "view_class", object), DialectView):
            return None
        too_large = oversized_body(request)
        if too_large is not None:
            return JsonResponse(error_body(too_large.code, too_large.message, too_large.problems), status=413)
        for name, values in request.GET.lists():
            if NUL in name or any(NUL in value for value in values):
                field = name.replace(NUL, "\\0")
                message = "Query parameters cannot contain NUL characters."
                if request.path.startswith("/api/"):
                    return JsonResponse(error_body("invalid", message, [Problem(field, message)]), status=400)
                return HttpResponseBadRequest(message)
        return None

    def process_exception(self, request, exception):
        """A provider's webhook Herald is not configured for (ANYMAIL_WEBHOOK_SECRET unset, an ESP's signing
        key missing): 503 with Retry-After, so the provider keeps the events and posts them again once the
        setting is made, as the Twilio callback does. A 500 would say Herald is broken; it is unconfigured.
        """
        if request.path.startswith("/anymail/") and isinstance(exception, ImproperlyConfigured):
            logger.warning("provider webhook refused, not configured: %s", exception)
            response = HttpResponse(
                "This webhook is not configured on Herald yet.", status=503, content_type="text/plain"
            )
            response["Retry-After"] = str(WEBHOOK_RETRY_AFTER_SECONDS)
            return response
        return None
