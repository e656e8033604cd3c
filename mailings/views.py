"""The page behind a marketing message's unsubscribe link: the one part of Herald a recipient sees."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .unsubscribe import send_for_token, unsubscribe_record


# Mailbox providers post the one-click unsubscribe without cookies or a CSRF token (RFC 8058). The signed
# token in the URL proves the request; a forged cross-site POST could only unsubscribe the link's own owner.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button and changes nothing (link scanners follow links); POST unsubscribes at once."""
    send = send_for_token(token)
    if send is None:
        return _page(request, "unsubscribe/invalid.html", {}, status=404)
    if request.method == "POST":
        unsubscribe_record(send=send)
        return _page(request, "unsubscribe/done.html", {"org": send.org})
    return _page(request, "unsubscribe/confirm.html", {"org": send.org})


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"  # the token must not leak to wherever the page links
    return response
