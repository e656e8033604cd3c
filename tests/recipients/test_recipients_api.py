import pytest

from recipients.models import Recipient
from tests.factories import RecipientFactory

pytestmark = pytest.mark.django_db


def test_a_recipient_is_created_with_normalised_addresses(api, org):
    response = api.post(
        "/api/v1/recipients/",
        {
            "email": "Ann@Example.COM",
            "phone": "+49 (151) 1234-5678",
            "external_id": "crm-9",
            "first_name": "Ann",
            "attributes": {"tier": "gold"},
        },
        format="json",
    )
    assert response.status_code == 201
    recipient = Recipient.objects.get()
    assert (recipient.org, recipient.email, recipient.phone) == (org, "ann@example.com", "+4915112345678")
    assert response.json()["attributes"] == {"tier": "gold"}


def test_email_and_external_id_are_unique_per_org(api, other_api, recipient):
    for body in ({"email": "ADA@example.com"}, {"external_id": "crm-1"}):
        response = api.post("/api/v1/recipients/", body, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["problems"][0]["field"] == next(iter(body))
    assert (
        other_api.post("/api/v1/recipients/", {"email": "ada@example.com"}, format="json").status_code == 201
    )


def test_bad_values_are_named(api):
    response = api.post(
        "/api/v1/recipients/", {"email": "nope", "phone": "call me", "attributes": [1]}, format="json"
    )
    assert response.status_code == 400
    assert {p["field"] for p in response.json()["error"]["problems"]} == {"email", "phone", "attributes"}


def test_recipients_are_filtered_by_email_and_external_id(api, org, recipient):
    RecipientFactory(org=org, email="bob@example.com")
    by_email = api.get("/api/v1/recipients/?email=ADA@example.com").json()["results"]
    by_external_id = api.get("/api/v1/recipients/?external_id=crm-1").json()["results"]
    assert [r["id"] for r in by_email] == [r["id"] for r in by_external_id] == [recipient.id]
    assert api.get("/api/v1/recipients/").json()["count"] == 2


def test_a_recipient_is_updated_and_deleted(api, recipient):
    url = f"/api/v1/recipients/{recipient.id}/"
    assert (
        api.patch(url, {"last_name": "Byron", "email": "ada@example.com"}, format="json").status_code == 200
    )
    recipient.refresh_from_db()
    assert recipient.last_name == "Byron"
    assert api.delete(url).status_code == 204
    assert not Recipient.objects.exists()


def test_another_orgs_recipient_is_not_found(other_api, recipient):
    url = f"/api/v1/recipients/{recipient.id}/"
    assert other_api.get(url).status_code == 404
    assert other_api.patch(url, {"first_name": "x"}, format="json").status_code == 404
    assert other_api.delete(url).status_code == 404
    assert other_api.get("/api/v1/recipients/?email=ada@example.com").json()["count"] == 0
    assert Recipient.objects.filter(pk=recipient.pk).exists()
