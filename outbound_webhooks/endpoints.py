"""What an org may subscribe: an endpoint's URL, its format and the statuses it asks for."""

from django.conf import settings

from core.errors import Problem

from . import http
from .models import WebhookEndpoint
from .payloads import formats, payload_format


def webhook_endpoint_problems(*, url: str, events: list[str], format: str) -> list[Problem]:
    """What the API and the admin both refuse in an endpoint."""
    problems = []
    problem = http.url_problem(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS)
    if problem:
        problems.append(Problem("url", problem))
    if format not in formats():
        problems.append(Problem("format", f"'{format}' is not a format: one of {', '.join(formats())}."))
    allowed = payload_format(format).statuses if format in formats() else ()
    for index, event in enumerate(events):
        if event not in allowed:
            problems.append(
                Problem(f"events[{index}]", f"'{event}' is not an outcome {format} endpoints are told of.")
            )
    return problems


def format_choices() -> list[tuple[str, str]]:
    return [(f.name, f.label) for f in formats().values()]


def endpoint_wants(endpoint: WebhookEndpoint, status: str) -> bool:
    return status in (endpoint.events or payload_format(endpoint.format).statuses)
