"""The mailing editor's live preview: the form as it stands, rendered by the sandbox from its sample context.

The preview shows what a recipient would get before anything is saved: each locale, HTML (in a frame that
runs no script) and text, at desktop and phone width, with template errors named by part and line.
"""

from dataclasses import asdict, dataclass, field

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from mailings.models import Channel, Mailing
from mailings.rendering import (
    RenderError,
    check_translations,
    render_mailing,
    template_data,
    template_problems,
)
from mailings.sms_length import sms_length

# Who a preview is addressed to: the fields a real recipient has, filled in.
SAMPLE_RECIPIENT = {
    "email": "ada@example.com",
    "phone": "+4915112345678",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "external_id": "sample-1",
    "locale": "",
    "attributes": {},
}
EDITED_FIELDS = ["channel", "subject", "text", "html", "default_locale", "translations", "sample_context"]


@dataclass
class Preview:
    locale: str
    locales: list[str]
    subject: str = ""
    text: str = ""
    html: str = ""
    problems: list[dict] = field(default_factory=list)  # {"part", "locale", "line", "message"}
    sms_summary: str = ""
    channel: str = Channel.EMAIL  # an SMS preview shows its message alone: it has no subject or HTML


def sms_summary(text: str) -> str:
    """SMS length, encoding and segments, shown under an SMS preview: "2 segments, GSM-7, 171 characters"."""
    length = sms_length(text)
    summary = (
        f"{length.segments} segment{'s' if length.segments != 1 else ''}, {length.encoding}, "
        f"{length.length} {'characters' if length.encoding == 'GSM-7' else 'UTF-16 units'}"
    )
    if length.unicode_characters:
        summary += f" (UCS-2 because of {' '.join(length.unicode_characters)})"
    return summary


def mailing_preview(*, mailing: Mailing, locale: str | None = None) -> Preview:
    """Render a mailing (saved or not) in one locale from its sample context, or say what stops it."""
    translations = mailing.translations if isinstance(mailing.translations, dict) else {}
    locales = [mailing.default_locale, *[key for key in translations if key != mailing.default_locale]]
    # Its shape first: template problems in translations are found below, with their lines.
    shape = {key: msg for key, msg in check_translations(mailing.translations).items() if "." not in key}
    if shape:
        return Preview(
            locale=mailing.default_locale, locales=[mailing.default_locale], channel=mailing.channel,
            problems=[{"part": "translations", "locale": key, "line": None, "message": message}
                      for key, message in shape.items()],
        )  # fmt: skip
    used_locale, content = mailing.content_for(locale or mailing.default_locale)
    preview = Preview(locale=used_locale, locales=locales, channel=mailing.channel)
    # Every locale's problems, so none waits to be found until a recipient in that locale is sent to.
    own_parts = {mailing.default_locale: {p: getattr(mailing, p) for p in ("subject", "text", "html")}}
    for key, parts in [*own_parts.items(), *translations.items()]:
        for part, problem in template_problems(**parts).items():
            preview.problems.append(
                {"part": part, "locale": key, "line": problem.line, "message": problem.message}
            )
    if template_problems(**content):  # what this locale renders does not compile (its own or the default's)
        return preview
    try:
        rendered = render_mailing(
            mailing, locale=used_locale,
            data=template_data(recipient=SAMPLE_RECIPIENT, context=mailing.sample_context),
        )  # fmt: skip
    except RenderError as exc:
        part, _, message = str(exc).partition(": ")
        preview.problems.append({"part": part, "locale": used_locale, "line": None, "message": message})
        return preview
    preview.subject, preview.text, preview.html = rendered.subject, rendered.text, rendered.html
    if mailing.channel == Channel.SMS:
        # What an SMS sends is the text: a subject or HTML left from an email past are not part of it.
        preview.subject = preview.html = ""
        preview.sms_summary = sms_summary(rendered.text)
    return preview


def mailing_from_form_data(data) -> tuple[Mailing, list[dict]]:
    """An unsaved mailing holding what the editor's form holds now; problems with its JSON fields."""
    mailing, problems = Mailing(), []
    for name in EDITED_FIELDS:
        model_field = Mailing._meta.get_field(name)
        try:
            value = model_field.formfield().clean(data.get(name, ""))
        except ValidationError as exc:
            problems.append({"part": name, "locale": "", "line": None, "message": " ".join(exc.messages)})
            continue
        setattr(mailing, name, model_field.get_default() if value in (None, "") else value)
    return mailing, problems


class LivePreviewMixin:
    """For MailingAdmin: the preview panel on the mailing's page and the endpoint that refreshes it."""

    class Media:
        css = {"all": ["mailings/admin.css"]}
        js = ["mailings/preview.js"]

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.preview_view))
        return [path("preview/", view, name="mailings_mailing_preview"), *super().get_urls()]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            return JsonResponse({"error": "You may not edit mailings."}, status=403)
        mailing, problems = mailing_from_form_data(request.POST)
        if problems:
            preview = Preview(
                locale=mailing.default_locale, locales=[mailing.default_locale], problems=problems,
                channel=mailing.channel,
            )  # fmt: skip
        else:
            preview = mailing_preview(mailing=mailing, locale=request.POST.get("_preview_locale"))
        return JsonResponse(asdict(preview))

    @admin.display(description="Preview")
    def preview(self, mailing: Mailing) -> str:
        test_url = reverse("admin:sends_send_test", args=[mailing.pk]) if mailing.pk else ""
        return render_to_string(
            "admin/mailings/preview.html",
            {"preview": mailing_preview(mailing=mailing), "test_url": test_url,
             "preview_url": reverse("admin:mailings_mailing_preview")},
        )  # fmt: skip
