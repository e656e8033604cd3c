from django.http import HttpResponseBadRequest, JsonResponse

from core.errors import Problem, error_body
from dialects.common import DialectView, oversized_body

NUL = "\x00"


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
