"""JSON in and out of every API: bodies that cannot be stored are refused at the door, and a read never
fails on what is stored."""

import json

from rest_framework import renderers
from rest_framework.parsers import BaseParser

from core.errors import Invalid, Problem
from core.inputs import json_problem


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number.")


def json_parse(raw: bytes):
    """The body as JSON, or Invalid naming where it cannot be stored (depth, NUL, lone surrogates)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError as exc:
        # The C parser recurses per level: [[[…]]] 10,000 deep would otherwise be a 500.
        message = "The body is nested too deeply."
        raise Invalid(message, problems=[Problem("body", message)]) from exc
    except ValueError as exc:  # UnicodeDecodeError included
        raise Invalid("The body is not valid JSON.", problems=[Problem("body", str(exc))]) from exc
    problem = json_problem(value)
    if problem is not None:
        raise Invalid("The body holds a value Herald cannot store. Nothing was stored.", problems=[problem])
    return value


class JSONParser(BaseParser):
    """DRF's JSON parser with the bounds of core.inputs: every JSON-bearing field of the native API."""

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        return json_parse(stream.read() if stream is not None else b"")


class JSONRenderer(renderers.JSONRenderer):
    """DRF's, falling back to ASCII escapes for text UTF-8 cannot encode.

    Nothing Herald accepts now holds a lone surrogate, but rows stored before (or by another path) may:
    escaped (\\ud800) they are still valid JSON, where encoding them would fail the whole read.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            escaping = type(self)()
            escaping.ensure_ascii = True
            return escaping.render(data, accepted_media_type, renderer_context)
