from django.conf import settings
from django.http import JsonResponse


class RequestSizeLimitMiddleware:
    """Refuse an oversized body with 413 before anything reads it (Django alone would answer 400)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.HERALD_MAX_REQUEST_BYTES
        if length > limit:
            message = f"The request body is {length} bytes; at most {limit} are accepted."
            return JsonResponse(
                {
                    "error": {
                        "code": "too_large",
                        "message": message,
                        "problems": [{"field": "body", "message": message}],
                    }
                },
                status=413,
            )
        return self.get_response(request)
