# The tables take this app's name: a rename, instant on PostgreSQL and SQLite. Content types and audit
# entries follow their models (orgs/moves.py).
from django.db import migrations

from orgs.moves import models_moved

MOVED = (
    ("mailings", "send"),
    ("mailings", "sendattempt"),
    ("campaigns", "trigger"),
    ("mailings", "deliveryevent"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("orgs", "0006_apitoken_test"),
        ("sends", "0001_initial"),
        ("mailings", "0010_send_log_and_webhooks_moved_out"),
        ("campaigns", "0005_trigger_moved_to_sends"),
    ]

    operations = [
        migrations.AlterModelTable(name="send", table=None),
        migrations.AlterModelTable(name="sendattempt", table=None),
        migrations.AlterModelTable(name="trigger", table=None),
        migrations.AlterModelTable(name="deliveryevent", table=None),
        models_moved("sends", MOVED),
    ]
