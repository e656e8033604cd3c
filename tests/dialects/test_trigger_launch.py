import hashlib
import json

import pytest
import xxhash
from django.core import mail
from rest_framework.test import APIClient

from campaigns.models import Campaign
from recipients.models import Recipient
from sends.models import Send, Trigger
from tests.dialects.conftest import token_with_secret, with_pk
from tests.factories import CampaignFactory, MailingFactory, OrgFactory, RecipientFactory, SmsMailingFactory

pytestmark = pytest.mark.django_db

START = "/api/v1.1/campaigns/triggers/start/"
SUCCESS = {"data": None, "error": 0, "error_text": "Successful operation"}

# The vendor's examples, as its document prints them (002_…).
BY_PROFILE_ID = """{
"token": "abcdefghijklmnqrstuvwxyz",
"id": 84,
"matching": "profile_id",
"profile_id": "abcdefghijklmnqrstuvwxyz"
}"""
BY_CUSTOM_REQUEST = """{
"token": "abcdefghijklmnqrstuvwxyz",
"id": 84,
"custom_request":{"Custom_ID": {"$in": ["IpHicQquekzYkufl", "xzFKLXeaJkCYHuMb", "SRNOwHVZiWFItJhr"]}}
}"""
WITH_ATTACHMENTS = """{
"token": "abcdefghijklmnqrstuvwxyz",
"id": 96,
"matching": "profile_id",
"profile_id": "6606e08f10bcdd88297057a7",
"attach": [
{
"data": "data:text/csv;base64,5LuK5pel44GvCg==",
"name": "日本.txt"
},
{
"data": "data:text/csv;base64,SEVMTE8K",
"name": "US.txt"
}
],
"content": {
"data_lines": [
"Channel A",
"Channel B"
],
"email_title": "New videos on your favorite channels"
}
}"""
V10_LINK = "465ea6fedf0a75fa9ee0b5fb8f9d5fe89af34054909af8bb"
V10_EXAMPLE_URL = f"http://trk.example.org/trg/{V10_LINK}/dd78094ad0e36ca3"
V10_FIELDS = """{
"token": "abcdefghijklmnqrstuvwxyz",
"id": 96,
"matching": "profile_id",
"profile_id": "6606e08f10bcdd88297057a7",
"fields": [
{
"name": "FirstName",
"value": "Jason",
"option": 0
},
{
"name": "Order",
"value": "123abc456-78",
"option": 1
}
]
}"""


@pytest.fixture
def shop(db):
    return OrgFactory(name="Video shop")


@pytest.fixture
def token(shop):
    return token_with_secret(shop, "abcdefghijklmnqrstuvwxyz")


@pytest.fixture
def campaign_84(shop):
    mailing = MailingFactory(
        org=shop,
        subject="{{ context.email_title|default:'News' }}",
        text="Hello {{ recipient.first_name }}: {{ apicontent.email_title }}|"
        "{% for line in context.data_lines %}{{ line }};{% endfor %}|{{ context.Order }}",
        html="",
    )
    return with_pk(CampaignFactory, 84, org=shop, key="new-videos", email_mailing=mailing, link_id=V10_LINK)


@pytest.fixture
def campaign_96(shop, campaign_84):
    return with_pk(CampaignFactory, 96, org=shop, key="digest", email_mailing=campaign_84.email_mailing)


@pytest.fixture
def profile(shop):
    return RecipientFactory(
        org=shop, email="ada@example.com", external_id="abcdefghijklmnqrstuvwxyz", phone="+4915100000001"
    )


def start(body: str | dict):
    client = APIClient()
    if isinstance(body, str):
        return client.post(START, body, content_type="application/json")
    return client.post(START, body, format="json")


def base(**fields) -> dict:
    return {"token": "abcdefghijklmnqrstuvwxyz", "id": 84, **fields}


def test_the_documented_profile_id_example_triggers_that_profile(token, campaign_84, profile):
    response = start(BY_PROFILE_ID)
    assert response.status_code == 200
    assert response.json() == SUCCESS
    send = Send.objects.get()
    assert (send.recipient, send.campaign_id, send.trigger.source) == (profile, 84, "trigger_launch")


def test_the_documented_custom_request_example_sends_to_the_audience_it_matches(token, campaign_84, shop):
    wanted = [
        RecipientFactory(org=shop, attributes={"Custom_ID": custom_id})
        for custom_id in ("IpHicQquekzYkufl", "xzFKLXeaJkCYHuMb", "SRNOwHVZiWFItJhr")
    ]
    RecipientFactory(org=shop, attributes={"Custom_ID": "someone-else"})
    response = start(BY_CUSTOM_REQUEST)
    assert response.json() == SUCCESS
    assert sorted(s.recipient_id for s in Send.objects.all()) == sorted(r.pk for r in wanted)


def test_the_documented_attachment_example_mails_the_files_and_the_content(
    token, campaign_96, shop, eager_tasks, django_capture_on_commit_callbacks
):
    RecipientFactory(
        org=shop, email="bo@example.com", first_name="Bo", external_id="6606e08f10bcdd88297057a7"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = start(WITH_ATTACHMENTS)
    assert response.json() == SUCCESS
    [message] = mail.outbox
    assert message.subject == "New videos on your favorite channels"
    assert message.body == "Hello Bo: New videos on your favorite channels|Channel A;Channel B;|"
    assert [(a[0], a[1], a[2]) for a in message.attachments] == [
        ("日本.txt", "今日は\n", "text/csv"),
        ("US.txt", "HELLO\n", "text/csv"),
    ]


def test_matching_is_by_email_unless_told_otherwise(token, campaign_84, profile):
    assert start(base(email="ADA@example.com")).json() == SUCCESS
    assert Send.objects.get().recipient == profile


def test_matching_by_phone(token, campaign_84, profile):
    assert start(base(matching="phone", phone="+49 151 00000001")).json() == SUCCESS
    assert Send.objects.get().recipient == profile


@pytest.mark.parametrize("stored", [123420, "123420"])
def test_custom_matching_compares_an_attribute_as_text_or_number(token, campaign_84, shop, stored):
    crm = RecipientFactory(org=shop, attributes={"CRM_ID": stored})
    RecipientFactory(org=shop, attributes={"CRM_ID": 99})
    assert start(base(matching="custom", field_name="CRM_ID", field_value="123420")).json() == SUCCESS
    assert [s.recipient for s in Send.objects.all()] == [crm]


def test_custom_matching_finds_a_combination_of_tags(token, campaign_84, shop):
    tagged = RecipientFactory(org=shop, attributes={"tags": ["tag-1", "tag-2", "tag-3"]})
    RecipientFactory(org=shop, attributes={"tags": ["tag-1"]})
    assert start(base(matching="custom", field_name="tags", field_value="tag-1, tag-2")).json() == SUCCESS
    assert [s.recipient for s in Send.objects.all()] == [tagged]


def test_nobody_matching_is_an_error_the_caller_can_read(token, campaign_84, profile):
    response = start(base(email="nobody@example.com"))
    assert response.status_code == 404
    assert response.json() == {
        "data": None,
        "error": 404,
        "error_text": "No profile matches email 'nobody@example.com'.",
    }
    assert not Send.objects.exists()


def test_content_custom_data_and_the_trigger_are_kept_on_the_send(token, campaign_84, profile):
    start(base(email="ada@example.com", content={"email_title": "Hi"}, custom_data={"crm": {"deal": 7}}))
    send = Send.objects.get()
    assert send.context == {"email_title": "Hi", "apicontent": {"email_title": "Hi"}}
    assert send.metadata == {"crm": {"deal": 7}}


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (
            {"email": {"$where": "sleep(1)"}},
            "custom_request.email.$where: The operator $where is not supported",
        ),
        ({"$nor": [{"a": 1}]}, "custom_request.$nor: The operator $nor is not supported"),
        (
            {"email; DROP TABLE x": 1},
            "custom_request.email; DROP TABLE x: 'email; DROP TABLE x' is not a field",
        ),
        ({}, "custom_request: Must be a non-empty object"),
    ],
)
def test_a_custom_request_outside_the_allow_list_is_a_clear_error(
    token, campaign_84, profile, query, problem
):
    response = start(base(custom_request=query))
    assert response.status_code == 400
    assert response.json()["error"] == 400
    assert problem in response.json()["error_text"]
    assert not Send.objects.exists()


def test_a_custom_request_cannot_reach_another_org(token, campaign_84, profile):
    RecipientFactory(org=OrgFactory(name="Stranger"), email="their@example.com")
    response = start(
        base(custom_request={"$or": [{"email": "their@example.com"}, {"email": {"$exists": True}}]})
    )
    assert response.json() == SUCCESS
    assert [s.to_address for s in Send.objects.all()] == ["ada@example.com"]


def test_a_subscription_filter_must_name_the_profiles_own_address_unless_not_strict(
    token, campaign_84, profile
):
    strict = start(base(email="ada@example.com", subscription_filter={"email": "old@example.com"}))
    assert strict.status_code == 404
    assert "not_strict" in strict.json()["error_text"]
    assert not Send.objects.exists()
    lenient = start(
        base(email="ada@example.com", subscription_filter={"email": "old@example.com", "not_strict": True})
    )
    assert lenient.json() == SUCCESS
    assert Send.objects.get().to_address == "ada@example.com"


def test_a_phone_subscription_filter_sends_by_sms_only(token, campaign_84, profile, shop):
    campaign_84.sms_mailing = SmsMailingFactory(org=shop)
    campaign_84.save()
    response = start(base(email="ada@example.com", subscription_filter={"phone": "+4915100000001"}))
    assert response.json() == SUCCESS
    assert [(s.channel, s.to_address) for s in Send.objects.all()] == [("sms", "+4915100000001")]


def test_attachments_must_be_base64_data_urls_within_the_size_limit(token, campaign_84, profile, settings):
    response = start(
        base(email="ada@example.com", attach=[{"data": "https://example.com/a.csv", "name": "a"}])
    )
    assert response.status_code == 400
    assert "attach[0].data" in response.json()["error_text"]
    settings.HERALD_MAX_ATTACHMENT_BYTES = 3
    response = start(base(email="ada@example.com", attach=[{"data": "data:text/plain;base64,SEVMTE8K"}]))
    assert response.status_code == 400
    assert "attach: Attachments total 6 bytes; at most 3." in response.json()["error_text"]
    assert not Send.objects.exists()


def test_attachment_names_are_sanitised(token, campaign_84, profile):
    start(
        base(
            email="ada@example.com",
            attach=[{"data": "data:text/plain;base64,SEVMTE8K", "name": "../../x/é.txt"}],
        )
    )
    assert Trigger.objects.get().attachments[0]["filename"] == "é.txt"


def test_a_bad_token_is_401_and_a_token_without_send_is_403(campaign_84, profile, shop):
    response = start({"token": "wrong", "id": 84, "email": "ada@example.com"})
    assert (response.status_code, response.json()["error"]) == (401, 401)
    token_with_secret(shop, "read-only-token", scopes=["read"])
    response = start({"token": "read-only-token", "id": 84, "email": "ada@example.com"})
    assert (response.status_code, response.json()["error"]) == (403, 403)
    assert not Send.objects.exists()


def test_another_orgs_token_reaches_nothing_of_this_org(campaign_84, profile):
    token_with_secret(OrgFactory(name="Stranger"), "stranger-token")
    response = start(
        {"token": "stranger-token", "id": 84, "matching": "profile_id", "profile_id": profile.external_id}
    )
    assert response.status_code == 404
    assert response.json()["error_text"] == "No trigger campaign with id 84."
    assert not Send.objects.exists()


def test_another_orgs_profiles_are_not_matched(token, campaign_84):
    RecipientFactory(org=OrgFactory(name="Stranger"), email="their@example.com", external_id="theirs")
    assert start(base(matching="profile_id", profile_id="theirs")).status_code == 404
    assert start(base(email="their@example.com")).status_code == 404
    assert not Send.objects.exists()


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("not json", "The body is not valid JSON."),
        ("[]", "The body must be a JSON object."),
        ('{"token": "abcdefghijklmnqrstuvwxyz"}', "'id' is a required property"),
        ('{"token": "abcdefghijklmnqrstuvwxyz", "id": 84, "colour": "red"}', "'colour' was unexpected"),
        ('{"token": "abcdefghijklmnqrstuvwxyz", "id": 84, "matching": "phone"}', "phone: Required"),
        (
            '{"token": "abcdefghijklmnqrstuvwxyz", "id": 84, '
            '"matching": "custom", "field_name": "a b", "field_value": 1}',
            "field_name",
        ),
    ],
)
def test_a_request_it_cannot_use_is_400_with_a_useful_text(token, campaign_84, profile, body, text):
    response = start(body)
    assert response.status_code == 400
    assert text in response.json()["error_text"]


def test_a_problem_with_one_profile_names_it_and_nothing_is_sent(token, campaign_84, shop):
    RecipientFactory(org=shop, email="ann@example.com", attributes={"team": "a"})
    phone_only = RecipientFactory(org=shop, email=None, phone="+4915100000009", attributes={"team": "a"})
    response = start(base(matching="custom", field_name="team", field_value="a"))
    assert response.status_code == 400
    assert (
        f"profile {phone_only.pk}: Has no email address for the email mailing."
        in response.json()["error_text"]
    )
    assert not Send.objects.exists()


def test_the_same_idempotency_key_triggers_once(token, campaign_84, profile):
    for _ in range(2):
        response = APIClient().post(
            START, base(email="ada@example.com"), format="json", HTTP_IDEMPOTENCY_KEY="launch-1"
        )
        assert response.json() == SUCCESS
    assert Send.objects.count() == 1
    different = APIClient().post(
        START, base(email="ada@example.com", content={"x": 1}), format="json", HTTP_IDEMPOTENCY_KEY="launch-1"
    )
    assert different.status_code == 409


# The examples in the document's table of request parameters, as printed there.
TABLE_CUSTOM_REQUEST = """{
"email": {
"$in": [
"asd@dsfsd.com",
"zxcv@sdfsd.com"
]
}
}"""
TABLE_PUSH_FILTER = """{
   "subscription_id": "CAREFULWITHTHATAXE",
   "provider": "Chrome",
   "not_strict": true
}"""
TABLE_EMAIL_FILTER = """{
   "email": "example@example.com",
   "not_strict": true
}"""
TABLE_SMS_FILTER = """{
   "phone": "+79106135133",
   "not_strict": false
}"""


def with_table_example(name: str, example: str, **fields) -> str:
    return json.dumps(base(**fields))[:-1] + f', "{name}": {example}}}'


def test_the_table_examples_of_custom_request_and_subscription_filter(token, campaign_84, shop):
    campaign_84.sms_mailing = SmsMailingFactory(org=shop)
    campaign_84.save()
    asd = RecipientFactory(org=shop, email="asd@dsfsd.com", phone="+79106135133")
    zxcv = RecipientFactory(org=shop, email="zxcv@sdfsd.com")
    assert start(with_table_example("custom_request", TABLE_CUSTOM_REQUEST)).json() == SUCCESS
    assert sorted(s.to_address for s in Send.objects.all()) == [
        "+79106135133",
        "asd@dsfsd.com",
        "zxcv@sdfsd.com",
    ]
    Send.objects.all().delete()

    # email: not_strict lets the profile's own address stand in for the example's
    response = start(with_table_example("subscription_filter", TABLE_EMAIL_FILTER, email="zxcv@sdfsd.com"))
    assert response.json() == SUCCESS
    assert [(s.channel, s.to_address) for s in Send.objects.all()] == [("email", "zxcv@sdfsd.com")]
    Send.objects.all().delete()

    # SMS: strict, and the number is this profile's own
    response = start(with_table_example("subscription_filter", TABLE_SMS_FILTER, email=asd.email))
    assert response.json() == SUCCESS
    assert [(s.channel, s.recipient) for s in Send.objects.all()] == [("sms", asd)]
    response = start(with_table_example("subscription_filter", TABLE_SMS_FILTER, email=zxcv.email))
    assert response.status_code == 404

    response = start(with_table_example("subscription_filter", TABLE_PUSH_FILTER, email=asd.email))
    assert response.status_code == 400
    assert "Push subscriptions are not supported" in response.json()["error_text"]


# v1.0: the campaign's secret link


def link(who: str) -> str:
    return f"/trg/{V10_LINK}/{who}"


def test_the_documented_xxh64_link_is_read_as_a_hash_and_answers_in_the_vendors_shape(campaign_84, profile):
    # A hash cannot be reversed: no address known here hashes to the example's, so the example's own URL
    # finds no profile, and says so in the documented shape.
    response = APIClient().get(V10_EXAMPLE_URL)
    assert response.status_code == 404
    assert response.json() == {"data": None, "error": 404, "error_text": "No profile matches this xxh64."}


@pytest.mark.parametrize(
    "who",
    [
        lambda email: email,
        lambda email: hashlib.md5(email.encode()).hexdigest(),
        lambda email: xxhash.xxh64_hexdigest(email.encode()),
    ],
    ids=["email", "md5", "xxh64"],
)
def test_a_link_triggers_the_profile_named_by_email_md5_or_xxh64(campaign_84, profile, shop, who):
    RecipientFactory(org=shop, email="someone@example.com")
    response = APIClient().get(link(who(profile.email)))
    assert response.json() == SUCCESS
    assert [s.recipient for s in Send.objects.all()] == [profile]


def test_the_documented_fields_example_uses_a_stored_name_and_a_one_off_order(
    campaign_84, profile, eager_tasks, django_capture_on_commit_callbacks
):
    md5 = hashlib.md5(profile.email.encode()).hexdigest()
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(link(md5), V10_FIELDS, content_type="application/json")
    assert response.json() == SUCCESS
    assert Send.objects.get().context == {"FirstName": "Ada", "Order": "123abc456-78"}
    assert mail.outbox[0].body.endswith("|123abc456-78")
    profile.refresh_from_db()
    assert (profile.first_name, profile.attributes) == ("Ada", {})


def test_option_0_fills_an_empty_field_and_option_2_writes_back(campaign_84, profile):
    profile.first_name = ""
    profile.save()
    fields = [
        {"name": "FirstName", "value": "Jason", "option": 0},
        {"name": "Tier", "value": "gold", "option": 2},
        {"name": "last_name", "value": "Byron", "option": 2},
    ]
    response = APIClient().post(link(profile.email), {"fields": fields}, format="json")
    assert response.json() == SUCCESS
    assert Send.objects.get().context == {"FirstName": "Jason", "Tier": "gold", "last_name": "Byron"}
    profile.refresh_from_db()
    assert (profile.first_name, profile.last_name, profile.attributes) == ("", "Byron", {"Tier": "gold"})


def test_a_refused_trigger_writes_nothing_back(campaign_84, profile):
    campaign_84.status = Campaign.Status.PAUSED
    campaign_84.save()
    fields = [{"name": "Tier", "value": "gold", "option": 2}]
    response = APIClient().post(link(profile.email), {"fields": fields}, format="json")
    assert response.status_code == 409
    profile.refresh_from_db()
    assert profile.attributes == {}


def test_fields_cannot_change_what_identifies_the_profile(campaign_84, profile):
    fields = [{"name": "email", "value": "other@example.com", "option": 2}]
    response = APIClient().post(link(profile.email), {"fields": fields}, format="json")
    assert response.status_code == 400
    assert "fields[0].name: email identifies the profile" in response.json()["error_text"]
    assert Recipient.objects.get(pk=profile.pk).email == "ada@example.com"


def test_a_link_reaches_only_its_own_orgs_profiles(campaign_84):
    stranger = RecipientFactory(org=OrgFactory(name="Stranger"), email="their@example.com")
    response = APIClient().get(link(stranger.email))
    assert response.status_code == 404
    assert not Send.objects.exists()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/trg/{'0' * 48}/ada@example.com", 404),
        ("/trg/not-hex/ada@example.com", 404),
        (f"/trg/{'a' * 65}/ada@example.com", 404),
        (f"/trg/{V10_LINK}/not-a-hash", 400),
        (f"/trg/{V10_LINK}/a%00@example.com", 400),
        (f"/trg/{V10_LINK}/{'a' * 400}@example.com", 400),
    ],
)
def test_unknown_links_and_profile_names_are_errors_in_the_vendors_shape(campaign_84, profile, path, status):
    response = APIClient().get(path)
    assert response.status_code == status
    assert response.json()["error"] == status
    assert not Send.objects.exists()


def test_a_link_post_without_a_body_triggers_and_a_body_of_null_is_refused(campaign_84, profile):
    refused = APIClient().post(link(profile.email), "null", content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["error_text"] == "The body must be a JSON object. body: Not an object."
    assert not Send.objects.exists()
    assert APIClient().post(link(profile.email)).json() == SUCCESS
    assert Send.objects.count() == 1


def test_a_campaign_id_the_database_cannot_hold_is_a_400(token, campaign_84, profile):
    response = start(base(id=2**63, email=profile.email))
    assert response.status_code == 400
    assert response.json()["error_text"].startswith("The request has 1 problem(s). id: ")
    assert not Send.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1.1/campaigns/triggers/start/", f"/trg/{V10_LINK}/ada@example.com"])
def test_a_body_over_the_size_limit_is_413_in_the_vendors_shape(token, campaign_84, profile, settings, path):
    settings.HERALD_MAX_REQUEST_BYTES = 50
    body = json.dumps(base(email=profile.email, content={"padding": "x" * 50}))
    response = APIClient().post(path, body, content_type="application/json")
    assert response.status_code == 413
    size = len(body)
    assert response.json() == {
        "data": None,
        "error": 413,
        "error_text": f"The request body is {size} bytes; at most 50 are accepted. "
        f"body: The request body is {size} bytes; at most 50 are accepted.",
    }
    assert not Send.objects.exists()


# Paths: the vendor documents them in lower case and says nothing of other cases, so they are matched as
# documented (docs/dialects.md, "Paths"); a client that lowercases paths reaches them all the same.


@pytest.mark.parametrize("path", [START, START.lower()])
def test_the_documented_start_path_is_answered_as_documented_and_lowercased(
    token, campaign_84, profile, path
):
    response = APIClient().post(path, BY_PROFILE_ID, content_type="application/json")
    assert response.json() == SUCCESS


@pytest.mark.parametrize(
    "path", [f"/trg/{V10_LINK}/ada@example.com", f"/trg/{V10_LINK}/ada@example.com".lower()]
)
def test_the_documented_link_is_answered_as_documented_and_lowercased(token, campaign_84, profile, path):
    assert APIClient().get(path).json() == SUCCESS


def test_a_path_in_another_case_is_no_route(token, campaign_84, profile):
    client = APIClient()
    assert client.post(START.upper(), BY_PROFILE_ID, content_type="application/json").status_code == 404
    assert client.get(f"/TRG/{V10_LINK}/ada@example.com").status_code == 404
    assert not Send.objects.exists()
