import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app as celery_app
from dispatch import sms
from orgs.services import token_create
from sends.models import Send
from tests import backends
from tests.factories import CampaignFactory, OrgFactory, RecipientFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # org ids repeat from one test database to the next; their counts must not


@pytest.fixture(autouse=True)
def _test_providers(settings, tmp_path):
    settings.EMAIL_BACKEND = "tests.backends.ScriptedBackend"
    settings.SMS_BACKEND = "dispatch.sms.LocMemSMSBackend"
    settings.HERALD_OUTBOX_DIR = tmp_path / "outbox"
    backends.script.clear()
    backends.twilio_script.clear()
    backends.TwilioRecorder.requests.clear()
    sms.outbox.clear()


@pytest.fixture
def eager_tasks():
    """Run enqueued dispatch work in-process, for API tests that want to see the outcome."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def api_client_for(org, scopes=None) -> APIClient:
    _, secret = token_create(org=org, name="test", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def org(db):
    return OrgFactory()


@pytest.fixture
def other_org(db):
    return OrgFactory(name="Another shop")


@pytest.fixture
def api(org):
    return api_client_for(org)


@pytest.fixture
def other_api(other_org):
    return api_client_for(other_org)


@pytest.fixture
def campaign(org):
    return CampaignFactory(org=org, key="order-completed")


@pytest.fixture
def recipient(org):
    return RecipientFactory(org=org, email="ada@example.com", external_id="crm-1")


@pytest.fixture
def make_send(org, campaign):
    """A queued email send of the campaign to a new recipient; any field may be given."""

    def make(**fields) -> Send:
        recipient = fields.pop("recipient", None) or RecipientFactory(org=org)
        defaults = dict(
            org=org, campaign=campaign, mailing=campaign.email_mailing, recipient=recipient, channel="email",
            to_address=recipient.email, context={"order_number": 42}, queued_at=timezone.now(),
        )  # fmt: skip
        return Send.objects.create(**{**defaults, **fields})

    return make
