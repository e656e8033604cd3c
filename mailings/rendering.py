"""Render marketer-written templates in a sandbox: only the data given, only the safe tags."""

import functools
import re
from dataclasses import dataclass

from django.template import Context, Engine, TemplateSyntaxError

from .models import Mailing


class SandboxEngine(Engine):
    default_builtins = ["mailings.template_builtins"]


# No loaders and no libraries: {% include %} and {% load %} have nothing to reach.
_HTML_ENGINE = SandboxEngine(dirs=[], app_dirs=False, libraries={}, loaders=[], autoescape=True)
_TEXT_ENGINE = SandboxEngine(dirs=[], app_dirs=False, libraries={}, loaders=[], autoescape=False)


class RenderError(Exception):
    """A template that does not compile or fails to render; the send fails with this message."""


@dataclass(frozen=True)
class Rendered:
    locale: str
    subject: str
    text: str
    html: str


@functools.lru_cache(maxsize=512)
def _compile(source: str, html: bool):
    return (_HTML_ENGINE if html else _TEXT_ENGINE).from_string(source)


def render_string(source: str, data: dict, *, html: bool = False, part: str = "template") -> str:
    if not source:
        return ""
    try:
        return _compile(source, html).render(Context(data, autoescape=html))
    except TemplateSyntaxError as exc:
        raise RenderError(f"{part}: {exc}") from exc
    except Exception as exc:  # a template must fail its send, never the worker
        raise RenderError(f"{part}: {type(exc).__name__}: {exc}") from exc


def template_data(*, recipient: dict, context) -> dict:
    return {"recipient": recipient, "context": context}


def render_mailing(mailing: Mailing, *, locale: str | None, data: dict) -> Rendered:
    used_locale, content = mailing.content_for(locale)
    subject = render_string(content["subject"], data, part="subject")
    return Rendered(
        locale=used_locale,
        # A subject is one header line: CR/LF in it would let data inject headers.
        subject=re.sub(r"\s+", " ", subject).strip(),
        text=render_string(content["text"], data, part="text"),
        html=render_string(content["html"], data, html=True, part="html"),
    )


def check_templates(*, subject: str = "", text: str = "", html: str = "") -> dict[str, str]:
    """Compile each part; return {part: error} for those that do not compile."""
    errors = {}
    for part, source, is_html in (("subject", subject, False), ("text", text, False), ("html", html, True)):
        try:
            if source:
                _compile(source, is_html)
        except TemplateSyntaxError as exc:
            errors[part] = str(exc)
    return errors
