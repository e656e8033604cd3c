from django.http import JsonResponse

from campaigns.dialects.common import DialectView, oversized_body

from .api_errors import error_body


class RequestSizeLimitMiddleware:
    """Refuse an oversized body with 413 before anything reads it (Django alone would answer 400).

    A vendor dialect's view refuses it itself, in its vendor's error shape (DialectView.initial).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if issubclass(getattr(view_func, "view_class", object), DialectView):
            return None
        too_large = oversized_body(request)
        if too_large is None:
            return None
        return JsonResponse(error_body(too_large.code, too_large.message, too_large.problems), status=413)
