# The tables take this app's name: a rename, instant on PostgreSQL and SQLite. Content types and audit
# entries follow their models (orgs/moves.py).
from django.db import migrations

from orgs.moves import models_moved

MOVED = (("mailings", "webhookattempt"), ("mailings", "webhookdelivery"), ("mailings", "webhookendpoint"))


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("orgs", "0006_apitoken_test"),
        ("outbound_webhooks", "0002_relations"),
        ("mailings", "0010_send_log_and_webhooks_moved_out"),
    ]

    operations = [
        migrations.AlterModelTable(name="webhookattempt", table=None),
        migrations.AlterModelTable(name="webhookdelivery", table=None),
        migrations.AlterModelTable(name="webhookendpoint", table=None),
        models_moved("outbound_webhooks", MOVED),
    ]
