import pytest

from mailings.models import Mailing
from tests.factories import MailingFactory

pytestmark = pytest.mark.django_db

MAILING = {
    "name": "Password reset",
    "channel": "email",
    "from_email": "security@example.com",
    "subject": "Reset your password",
    "text": "Code: {{ context.code }}",
    "html": "<p>Code: {{ context.code }}</p>",
    "default_locale": "en",
    "translations": {"de": {"subject": "Passwort zurücksetzen"}},
    "context_schema": {"type": "object", "required": ["code"]},
}


def test_a_mailing_is_created_read_updated_and_deleted(api, org):
    response = api.post("/api/v1/mailings/", MAILING, format="json")
    assert response.status_code == 201
    mailing = Mailing.objects.get(pk=response.json()["id"])
    assert mailing.org == org
    assert api.get(f"/api/v1/mailings/{mailing.id}/").json()["translations"] == MAILING["translations"]
    assert api.patch(f"/api/v1/mailings/{mailing.id}/", {"subject": "New"}, format="json").status_code == 200
    mailing.refresh_from_db()
    assert mailing.subject == "New"
    assert api.delete(f"/api/v1/mailings/{mailing.id}/").status_code == 204
    assert not Mailing.objects.exists()


def test_a_template_that_does_not_compile_is_refused_naming_the_part(api):
    response = api.post("/api/v1/mailings/", {**MAILING, "html": "{% if %}"}, format="json")
    assert response.status_code == 400
    [problem] = response.json()["error"]["problems"]
    assert problem["field"] == "html"
    assert problem["message"].startswith("Template error:")


def test_a_template_reaching_for_a_library_is_refused(api):
    response = api.post("/api/v1/mailings/", {**MAILING, "text": "{% load static %}"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "text"


def test_a_broken_translation_is_refused_naming_locale_and_part(api):
    response = api.post(
        "/api/v1/mailings/",
        {**MAILING, "translations": {"de": {"subject": "{{ x|nofilter }}"}}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "translations.de.subject"


def test_a_context_schema_must_be_a_json_schema(api):
    response = api.post("/api/v1/mailings/", {**MAILING, "context_schema": {"type": "banana"}}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "context_schema"


def test_missing_and_wrong_fields_are_named(api):
    response = api.post("/api/v1/mailings/", {"channel": "pigeon"}, format="json")
    assert response.status_code == 400
    fields = {p["field"] for p in response.json()["error"]["problems"]}
    assert fields == {"name", "channel"}


def test_another_orgs_mailing_is_not_found(api, other_org):
    theirs = MailingFactory(org=other_org)
    assert api.get(f"/api/v1/mailings/{theirs.id}/").status_code == 404
    assert api.patch(f"/api/v1/mailings/{theirs.id}/", {"name": "x"}, format="json").status_code == 404
    assert api.delete(f"/api/v1/mailings/{theirs.id}/").status_code == 404
    assert api.get("/api/v1/mailings/").json()["count"] == 0
