"""Errors Django answers itself (an unrouted URL, an unhandled exception), in the API's error envelope."""

from django.http import JsonResponse
from django.views.defaults import page_not_found, server_error


def _is_api(request) -> bool:
    return not request.path.startswith("/admin/")


def not_found(request, exception=None):
    if _is_api(request):
        body = {"error": {"code": "not_found", "message": "No such resource.", "problems": []}}
        return JsonResponse(body, status=404)
    return page_not_found(request, exception)


def internal_error(request):
    if _is_api(request):
        body = {
            "error": {"code": "server_error", "message": "Herald failed on this request.", "problems": []}
        }
        return JsonResponse(body, status=500)
    return server_error(request)
