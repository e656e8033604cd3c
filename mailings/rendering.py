"""Render marketer-written templates in a sandbox: only the data given, only the safe tags."""

import contextlib
import functools
import re
import signal
import threading
from dataclasses import dataclass

import jsonschema
from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError

from mailings.models import Mailing
from mailings.render_budget import BudgetExceeded, render_budget


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
        with render_budget():
            # use_l10n off: a number renders as itself, not in the format of whatever language the worker
            # process happens to have active (the recipient's locale picks the translation, not the format).
            rendered = _compile(source, html).render(Context(data, autoescape=html, use_l10n=False))
    except BudgetExceeded as exc:
        raise RenderError(f"{part}: {exc}") from exc
    except TemplateSyntaxError as exc:
        raise RenderError(f"{part}: {exc}") from exc
    except RenderTimeout as exc:
        raise RenderError(
            f"{part}: took longer than {settings.HERALD_TEMPLATE_TIME_LIMIT}s to render"
        ) from exc
    except Exception as exc:  # a template must fail its send, never the worker
        raise RenderError(f"{part}: {type(exc).__name__}: {exc}") from exc
    if len(rendered) > settings.HERALD_TEMPLATE_MAX_CHARS:
        raise RenderError(f"{part}: rendered to more than {settings.HERALD_TEMPLATE_MAX_CHARS} characters")
    # A plain str, not the SafeString Django returns: rendered content is data, and code that puts
    # it into a page (the admin's preview) must escape it like any other data.
    return str.__str__(rendered)


class RenderTimeout(BaseException):
    """BaseException: Django swallows Exceptions in places ({% if %} conditions); this must get out."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt a render that runs too long. Only in a main thread (workers, web processes), where
    signals are delivered; elsewhere (a threaded dev server) the output-size bound still holds."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise RenderTimeout()

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def template_data(*, recipient: dict, context, unsubscribe_url: str = "") -> dict:
    # unsubscribe_url is empty in transactional mail, which has nothing to unsubscribe from.
    data = {"recipient": recipient, "context": context, "unsubscribe_url": unsubscribe_url}
    if isinstance(context, dict) and isinstance(context.get("apicontent"), dict):
        # The trigger-launch vendor's templates say {apicontent.x}; its dialect files content there.
        data["apicontent"] = context["apicontent"]
    return data


def render_mailing(mailing: Mailing, *, locale: str | None, data: dict) -> Rendered:
    """Render every part; the time limit is for all of them together (one timer per send, not three)."""
    used_locale, content = mailing.content_for(locale)
    limit = settings.HERALD_TEMPLATE_TIME_LIMIT
    try:
        # The budget stops a loop at the limit, on any thread, naming the part. The signal is only the
        # backstop for work that is not a loop, so it fires later: at the same instant it could land while
        # the budget's error is being raised, and replace it with one that names no part.
        with render_budget(), _time_limit(limit * 1.5 + 0.05 if limit > 0 else 0):
            subject = render_string(content["subject"], data, part="subject")
            text = render_string(content["text"], data, part="text")
            html = render_string(content["html"], data, html=True, part="html")
    except RenderTimeout as exc:  # the backstop reached between two parts
        raise RenderError(f"took longer than {limit}s to render") from exc
    # A subject is one header line: CR/LF in it would let data inject headers.
    return Rendered(locale=used_locale, subject=re.sub(r"\s+", " ", subject).strip(), text=text, html=html)


TRANSLATION_PARTS = {"subject", "text", "html"}


def check_translations(translations) -> dict[str, str]:
    """Problems with a mailing's translations, keyed "de" (its shape) or "de.subject" (a template)."""
    if not isinstance(translations, dict):
        return {"": 'Must be an object such as {"de": {"subject": "…"}}.'}
    problems = {}
    for locale, content in translations.items():
        if not (
            isinstance(content, dict)
            and set(content) <= TRANSLATION_PARTS
            and all(isinstance(source, str) for source in content.values())
        ):
            problems[locale] = "Must be an object with any of subject, text, html as text."
            continue
        for part, message in check_templates(**content).items():
            problems[f"{locale}.{part}"] = f"Template error: {message}"
    return problems


def check_context_schema(schema) -> str | None:
    if schema is None:
        return None
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"Not a valid JSON Schema: {exc.message}"
    return None


@dataclass(frozen=True)
class TemplateProblem:
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


# Used only to locate a syntax error: Django records the line of one when its engine debugs.
_LOCATING_ENGINES = {
    is_html: SandboxEngine(dirs=[], app_dirs=False, libraries={}, loaders=[], autoescape=is_html, debug=True)
    for is_html in (True, False)
}


def template_problems(*, subject: str = "", text: str = "", html: str = "") -> dict[str, TemplateProblem]:
    """Compile each part; {part: problem, with its line} for those that do not compile."""
    problems = {}
    for part, source, is_html in (("subject", subject, False), ("text", text, False), ("html", html, True)):
        try:
            if source:
                _compile(source, is_html)
        except TemplateSyntaxError as exc:
            problems[part] = TemplateProblem(_error_line(source, is_html), str(exc))
    return problems


def _error_line(source: str, is_html: bool) -> int | None:
    try:
        _LOCATING_ENGINES[is_html].from_string(source)
    except TemplateSyntaxError as exc:
        return (getattr(exc, "template_debug", None) or {}).get("line")
    return None


def check_templates(*, subject: str = "", text: str = "", html: str = "") -> dict[str, str]:
    """Compile each part; return {part: error, naming its line} for those that do not compile."""
    return {
        part: str(problem)
        for part, problem in template_problems(subject=subject, text=text, html=html).items()
    }
