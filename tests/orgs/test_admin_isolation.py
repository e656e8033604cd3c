"""Every admin page, walked as an admin of org A with org B's objects in the database: B is never there.

The admin counterpart of the API's isolation tests. A model registered in the admin without the
OrgScopedAdmin mixin fails test_every_admin_page_is_org_scoped_or_for_operators_only.
"""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.filters import RelatedFieldListFilter
from django.forms import ModelChoiceField
from django.urls import reverse
from django.utils import timezone

from orgs.admin_scoping import OrgScopedAdmin
from orgs.models import ApiToken, AuditEntry, Invitation, Membership, Org, hash_token
from orgs.roles import ROLE_PERMISSIONS
from orgs.services import token_create
from outbound_webhooks.models import WebhookDelivery, WebhookEndpoint
from providers.models import Provider
from providers.services import provider_create
from sends.models import DeliveryEvent, Send, Trigger
from suppressions.models import Suppression
from tests.factories import CampaignFactory, MembershipFactory, RecipientFactory

pytestmark = pytest.mark.django_db

SCOPED = {model: ma for model, ma in admin.site._registry.items() if isinstance(ma, OrgScopedAdmin)}
SCOPED_MODELS = pytest.mark.parametrize("model", list(SCOPED), ids=lambda m: m._meta.label_lower)


def one_of_each(org: Org) -> dict:
    token, _ = token_create(org=org, name=f"{org.name} backend")
    campaign = CampaignFactory(org=org)
    recipient = RecipientFactory(org=org)
    trigger = Trigger.objects.create(org=org, campaign=campaign, context={"order_number": 1})
    send = Send.objects.create(
        org=org, campaign=campaign, mailing=campaign.email_mailing, trigger=trigger, recipient=recipient,
        channel="email", to_address=recipient.email, status=Send.Status.FAILED, context={"order_number": 1},
    )  # fmt: skip
    endpoint = WebhookEndpoint.objects.create(org=org, url=f"https://hooks.example.com/{org.pk}")
    return {
        Org: org,
        ApiToken: token,
        AuditEntry: AuditEntry.objects.get(org=org, action=AuditEntry.Action.TOKEN_CREATED),
        campaign._meta.model: campaign,
        campaign.email_mailing._meta.model: campaign.email_mailing,
        recipient._meta.model: recipient,
        Trigger: trigger,
        Send: send,
        DeliveryEvent: DeliveryEvent.objects.create(
            org=org, send=send, esp_name="postmark", event_type="delivered", dedupe_key=f"e{org.pk}"
        ),
        Suppression: Suppression.objects.create(org=org, address=f"x{org.pk}@example.com", reason="manual"),
        WebhookEndpoint: endpoint,
        Membership: MembershipFactory(org=org, role=Membership.Role.MARKETER),
        Invitation: Invitation.objects.create(
            org=org,
            email=f"new{org.pk}@example.com",
            role=Membership.Role.MARKETER,
            token_hash=hash_token(f"raw{org.pk}"),
            expires_at=timezone.now() + timedelta(days=1),
        ),
        WebhookDelivery: WebhookDelivery.objects.create(
            endpoint=endpoint, send=send, event="failed", payload={}, retry_until=timezone.now()
        ),
        Provider: provider_create(
            org=org,
            actor=None,
            kind="postmark",
            name=f"{org.name} Postmark",
            credentials={"server_token": "t"},
        ),
    }


@pytest.fixture
def mine(org) -> dict:
    return one_of_each(org)


@pytest.fixture
def theirs(other_org) -> dict:
    return one_of_each(other_org)


def fits(obj, model, field: str) -> bool:
    """Whether the field would offer obj to anyone (an email mailing is no campaign's SMS mailing)."""
    limit = model._meta.get_field(field).get_limit_choices_to()
    return type(obj)._default_manager.complex_filter(limit).filter(pk=obj.pk).exists()


def admin_url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def test_every_admin_page_is_org_scoped_or_for_operators_only():
    granted = set().union(*ROLE_PERMISSIONS.values())
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, OrgScopedAdmin):
            app, name = model._meta.app_label, model._meta.model_name
            assert not [p for p in granted if p.startswith(f"{app}.") and p.endswith(f"_{name}")], model
    assert Send in SCOPED and Org in SCOPED and AuditEntry in SCOPED


def test_the_fixture_has_an_object_of_every_scoped_model(mine):
    assert set(SCOPED) <= set(mine)


@SCOPED_MODELS
def test_the_list_shows_the_own_org_and_never_another(org_admin, mine, theirs, model):
    response = org_admin.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    listed = list(response.context["cl"].result_list)
    assert mine[model] in listed
    assert theirs[model] not in listed


NO_SUCH_ID = 2**31 - 1


@SCOPED_MODELS
@pytest.mark.parametrize("page", ["change", "history", "delete"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_orgs_object_is_404_on_every_page(org_admin, mine, theirs, model, page, method):
    """As if it did not exist: 404, or the 403 the page gives for any object when the role has no access."""

    def status(pk) -> int:
        return getattr(org_admin, method)(admin_url(model, page, pk), {"post": "yes"}).status_code

    answer = status(theirs[model].pk)
    assert answer == status(NO_SUCH_ID)
    assert answer == 404 or (answer == 403 and status(mine[model].pk) == 403)
    assert model.objects.filter(pk=theirs[model].pk).exists()


@SCOPED_MODELS
def test_the_own_orgs_object_opens(org_admin, mine, model):
    # The other side of the test above: the pages do open, for org A's object.
    assert org_admin.get(admin_url(model, "change", mine[model].pk)).status_code == 200
    assert org_admin.get(admin_url(model, "history", mine[model].pk)).status_code == 200


@SCOPED_MODELS
def test_the_filters_offer_only_the_own_orgs_objects(org_admin, mine, theirs, model):
    specs = org_admin.get(admin_url(model, "changelist")).context["cl"].filter_specs
    related = [spec for spec in specs if isinstance(spec, RelatedFieldListFilter)]
    for spec in related:
        offered = {pk for pk, _ in spec.lookup_choices}
        target = spec.field.related_model
        assert theirs[target].pk not in offered, f"{model} filter {spec.field_path} offers org B's"
        assert mine[target].pk in offered


@SCOPED_MODELS
def test_the_add_form_offers_only_the_own_orgs_objects(org_admin, mine, theirs, model):
    response = org_admin.get(admin_url(model, "add"))
    if response.status_code == 403:
        return  # a record nobody adds by hand
    assert response.status_code == 200
    fields = response.context["adminform"].form.fields
    for name, field in fields.items():
        if isinstance(field, ModelChoiceField) and field.queryset.model in theirs:
            offered = list(field.queryset)
            assert theirs[field.queryset.model] not in offered, f"{model} {name} offers org B's"
            if fits(mine[field.queryset.model], model, name):
                assert mine[field.queryset.model] in offered
    if "org" in fields:
        assert fields["org"].empty_label is None, "a member of one org has it chosen already"


def test_search_finds_nothing_of_another_org(org_admin, mine, theirs):
    changelist = admin_url(Send, "changelist")

    def search(term: str) -> list:
        return list(org_admin.get(changelist, {"q": term}).context["cl"].result_list)

    assert search(theirs[Send].to_address) == []
    assert search(mine[Send].to_address) == [mine[Send]]


def test_a_filter_by_another_orgs_campaign_in_the_url_lists_nothing(org_admin, theirs):
    params = {"campaign__id__exact": theirs[Send].campaign_id}
    response = org_admin.get(admin_url(Send, "changelist"), params)
    assert list(response.context["cl"].result_list) == []


AUTOCOMPLETES = [
    (model, name) for model, ma in SCOPED.items() for name in ma.autocomplete_fields
]  # fmt: skip


@pytest.mark.parametrize(("model", "field"), AUTOCOMPLETES, ids=lambda v: getattr(v, "__name__", v))
def test_autocomplete_offers_only_the_own_orgs_objects(org_admin, mine, theirs, model, field):
    response = org_admin.get(
        reverse("admin:autocomplete"),
        {"app_label": model._meta.app_label, "model_name": model._meta.model_name, "field_name": field},
    )
    offered = {int(result["id"]) for result in response.json()["results"]}
    target = model._meta.get_field(field).related_model
    assert theirs[target].pk not in offered
    if fits(mine[target], model, field):
        assert mine[target].pk in offered


def snapshot(objects: dict) -> dict:
    return {model: list(model.objects.filter(pk=obj.pk).values()) for model, obj in objects.items()}


@SCOPED_MODELS
def test_no_action_reaches_another_orgs_objects(org_admin, mine, theirs, model):
    model_admin = SCOPED[model]
    request = org_admin.get(admin_url(model, "changelist")).wsgi_request
    actions = list(model_admin.get_actions(request))
    before, sends, entries = snapshot(theirs), Send.objects.count(), AuditEntry.objects.count()
    for action in actions:
        org_admin.post(
            admin_url(model, "changelist"),
            {"action": action, "_selected_action": [theirs[model].pk], "post": "yes"},
        )
    assert snapshot(theirs) == before
    assert Send.objects.count() == sends, "nothing was re-triggered"
    assert AuditEntry.objects.count() == entries, "nothing was done that would be logged"


def test_the_actions_do_reach_the_own_orgs_objects(org_admin, mine):
    # The other side of the test above: the same posts do act on org A's objects.
    for model, action in [(Send, "retrigger"), (ApiToken, "revoke")]:
        chosen = {"action": action, "_selected_action": [mine[model].pk], "post": "yes"}  # confirmed
        org_admin.post(admin_url(model, "changelist"), chosen)
    assert mine[Send].retriggers.count() == 1
    mine[ApiToken].refresh_from_db()
    assert mine[ApiToken].revoked_at is not None


def test_a_raw_id_popup_lists_only_the_own_org(org_admin, mine, theirs):
    response = org_admin.get(admin_url(Send, "changelist"), {"_popup": "1", "_to_field": "id"})
    assert list(response.context["cl"].result_list) == [mine[Send]]


def test_an_operator_sees_every_org(admin_client, mine, theirs):
    for model in SCOPED:
        listed = list(admin_client.get(admin_url(model, "changelist")).context["cl"].result_list)
        assert mine[model] in listed and theirs[model] in listed


def test_staff_without_a_membership_see_nothing(client, django_user_model, mine):
    client.force_login(django_user_model.objects.create_user("drifter", password="pw", is_staff=True))
    assert client.get(reverse("admin:index")).context["app_list"] == []
    for model in SCOPED:
        assert client.get(admin_url(model, "changelist")).status_code == 403
