"""Numbers stored before phonenumbers came in are moved to E.164, so triggers find them again."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, AFTER = [("recipients", "0003_suppression")], [("recipients", "0004_phones_e164")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def _latest_schema_afterwards():
    yield
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())  # later tests need every migration, not the one tested


def test_old_spellings_become_e164_and_unreadable_ones_stay(settings):
    settings.HERALD_PHONE_REGION = "DE"
    apps = migrate(BEFORE)
    Org = apps.get_model("orgs", "Org")
    Recipient = apps.get_model("recipients", "Recipient")
    Suppression = apps.get_model("recipients", "Suppression")
    org = Org.objects.create(name="Shop")
    national = Recipient.objects.create(org=org, phone="015112345678")
    already = Recipient.objects.create(org=org, phone="+4915100000001")
    unreadable = Recipient.objects.create(org=org, phone="12345")
    Suppression.objects.create(org=org, address="015112345678", reason="manual")
    Suppression.objects.create(org=org, address="+4915112345678", reason="bounced")
    Suppression.objects.create(org=org, address="004915100000001", reason="manual")

    apps = migrate(AFTER)
    Recipient = apps.get_model("recipients", "Recipient")
    Suppression = apps.get_model("recipients", "Suppression")
    phones = dict(Recipient.objects.values_list("pk", "phone"))
    assert phones[national.pk] == "+4915112345678"
    assert phones[already.pk] == "+4915100000001"
    assert phones[unreadable.pk] == "12345"
    assert sorted(Suppression.objects.values_list("address", "reason")) == [
        ("+4915100000001", "manual"), ("+4915112345678", "bounced")
    ]  # fmt: skip
