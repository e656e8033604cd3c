"""Phone numbers are validated by libphonenumber's rules and stored in E.164, wherever they come in."""

import pytest
from django.core.exceptions import ValidationError

from recipients.models import Recipient, clean_phone, normalize_phone
from tests.factories import CampaignFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "spelling", ["+4915112345678", "+49 151 12345678", "+49 (151) 1234-5678", "0049 151 1234 5678"]
)
def test_an_international_number_is_stored_in_e164_however_it_is_written(spelling):
    assert normalize_phone(spelling) == "+4915112345678"


@pytest.mark.parametrize("not_a_number", ["", "hello", "+49 151", "+49 151 123456789012345", "+999 1234567"])
def test_what_is_no_valid_number_is_none(not_a_number):
    assert normalize_phone(not_a_number) is None


def test_a_national_number_needs_a_default_region(settings):
    settings.HERALD_PHONE_REGION = ""
    assert normalize_phone("0151 12345678") is None
    settings.HERALD_PHONE_REGION = "DE"
    assert normalize_phone("0151 12345678") == "+4915112345678"
    settings.HERALD_PHONE_REGION = "GB"
    assert normalize_phone("07911 123456") == "+447911123456"


def test_clean_phone_names_the_bad_number():
    with pytest.raises(ValidationError, match="'0151 1' is not a valid phone number"):
        clean_phone("0151 1")


def test_the_api_stores_a_recipients_phone_in_e164(api, settings):
    settings.HERALD_PHONE_REGION = "DE"
    response = api.post("/api/v1/recipients/", {"phone": "0151 1234 5678"}, format="json")
    assert response.status_code == 201
    assert Recipient.objects.get().phone == "+4915112345678"


def test_the_api_refuses_an_invalid_phone_naming_the_field(api):
    response = api.post("/api/v1/recipients/", {"phone": "+49 151"}, format="json")
    assert response.status_code == 400
    [problem] = response.json()["error"]["problems"]
    assert problem["field"] == "phone"
    assert "is not a valid phone number" in problem["message"]
    assert not Recipient.objects.exists()


def test_a_trigger_refuses_an_invalid_phone_naming_the_recipient(api, org):
    CampaignFactory(org=org, key="code", email_mailing=None, sms_mailing=SmsMailingFactory(org=org))
    response = api.post(
        "/api/v1/campaigns/code/trigger/", {"recipients": [{"phone": "+1 555"}], "context": {}}, format="json"
    )
    assert response.status_code == 400
    problem = {"field": "recipients[0].phone", "message": "'+1 555' is not a phone number."}
    assert problem in response.json()["error"]["problems"]
