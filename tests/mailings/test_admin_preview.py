"""The mailing editor's live preview: what the form holds now, rendered by the sandbox, before saving."""

import json
import re

import pytest

from mailings.models import Mailing
from tests.factories import MailingFactory, SmsMailingFactory
from tests.test_admin import url

pytestmark = pytest.mark.django_db


def form(**changes) -> dict:
    data = {
        "channel": "email", "subject": "Order {{ context.order_number }} confirmed",
        "text": "Hello {{ recipient.first_name }}, order {{ context.order_number }}.",
        "html": "<p>Hello <b>{{ recipient.first_name }}</b></p>", "default_locale": "en",
        "translations": json.dumps({"de": {"subject": "Bestellung {{ context.order_number }} bestätigt"}}),
        "sample_context": '{"order_number": "A-1001"}',
    }  # fmt: skip
    return {**data, **changes}


def preview(client, **data) -> dict:
    response = client.post(url("mailings_mailing_preview"), form(**data))
    assert response.status_code == 200
    return response.json()


def test_the_preview_renders_the_unsaved_form_from_its_sample_context(admin_client):
    shown = preview(admin_client)
    assert shown["subject"] == "Order A-1001 confirmed"
    assert shown["text"] == "Hello Ada, order A-1001."
    assert shown["html"] == "<p>Hello <b>Ada</b></p>"
    assert shown["problems"] == []
    assert shown["locales"] == ["en", "de"]
    assert not Mailing.objects.exists(), "previewing saves nothing"


def test_the_preview_renders_each_locale_with_the_default_locales_parts_as_fallback(admin_client):
    shown = preview(admin_client, _preview_locale="de")
    assert shown["locale"] == "de"
    assert shown["subject"] == "Bestellung A-1001 bestätigt"
    assert shown["text"] == "Hello Ada, order A-1001.", "no German text: the default locale's"


def test_a_template_error_is_named_by_part_locale_and_line_before_saving(admin_client):
    shown = preview(admin_client, html="<p>\n  Hello\n  {% if %}\n</p>")
    [problem] = shown["problems"]
    assert problem["part"] == "html"
    assert problem["locale"] == "en"
    assert problem["line"] == 3
    assert "if" in problem["message"]
    assert shown["html"] == ""


def test_a_template_error_in_a_translation_is_named_with_its_locale(admin_client):
    translations = json.dumps({"de": {"text": "Hallo\n{% endif %}"}})
    [problem] = preview(admin_client, translations=translations, _preview_locale="de")["problems"]
    assert (problem["part"], problem["locale"], problem["line"]) == ("text", "de", 2)


def test_sample_context_that_is_not_json_is_named(admin_client):
    [problem] = preview(admin_client, sample_context="{order: 1")["problems"]
    assert problem["part"] == "sample_context"


def test_the_preview_escapes_sample_data_in_html_as_sending_would(admin_client):
    shown = preview(admin_client, sample_context='{"order_number": "<script>x()</script>"}',
                    html="<p>{{ context.order_number }}</p>")  # fmt: skip
    assert shown["html"] == "<p>&lt;script&gt;x()&lt;/script&gt;</p>"


def test_an_sms_preview_renders_its_text(admin_client):
    shown = preview(admin_client, channel="sms", subject="", html="", text="Code {{ context.order_number }}")
    assert shown["text"] == "Code A-1001"
    assert shown["html"] == ""


def test_an_sms_preview_counts_its_segments_and_says_which_characters_force_ucs2(admin_client):
    plain = preview(admin_client, channel="sms", subject="", html="", text="x" * 161)
    assert plain["sms_summary"] == "2 segments, GSM-7, 161 characters"
    emoji = preview(admin_client, channel="sms", subject="", html="", text="Danke 🎉")
    assert emoji["sms_summary"] == "1 segment, UCS-2, 8 UTF-16 units (UCS-2 because of 🎉)"


def test_the_preview_endpoint_takes_only_posts_from_staff(client, admin_client, db):
    assert admin_client.get(url("mailings_mailing_preview")).status_code == 405
    response = client.post(url("mailings_mailing_preview"), form())
    assert response.status_code == 302 and "/login/" in response.url


def test_the_mailing_page_has_the_live_preview_panel_with_each_locale(admin_client, org):
    mailing = MailingFactory(org=org, translations={"de": {"subject": "Bestellung"}},
                             sample_context={"order_number": 7})  # fmt: skip
    content = admin_client.get(url("mailings_mailing_change", mailing.pk)).content.decode()
    panel = re.search(r'<div class="herald-preview" data-preview-url="([^"]+)"', content)
    assert panel.group(1) == url("mailings_mailing_preview")
    assert '<option value="de">de</option>' in content
    assert "mailings/preview.js" in content
    assert "Order 7 confirmed" in content


def test_the_add_page_has_the_preview_panel_too(admin_client):
    content = admin_client.get(url("mailings_mailing_add")).content.decode()
    assert 'class="herald-preview"' in content


def test_saving_a_broken_template_names_its_line(admin_client, org):
    from tests.test_admin import form_errors, mailing_data

    response = admin_client.post(url("mailings_mailing_add"), mailing_data(org, text="Hi\n\n{% for %}"))
    assert "line 3" in form_errors(response)["text"][0]


def test_an_sms_mailing_page_previews_its_text(admin_client, org):
    mailing = SmsMailingFactory(org=org, sample_context={"code": "7731"})
    content = admin_client.get(url("mailings_mailing_change", mailing.pk)).content.decode()
    assert "Your code is 7731" in content
