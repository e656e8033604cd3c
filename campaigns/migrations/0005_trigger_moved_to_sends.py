# Trigger moved to sends/ (a trigger and its sends are one record): it leaves this app's state; the table
# stays until sends 0002 renames it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_campaign_kind"),
        ("mailings", "0010_send_log_and_webhooks_moved_out"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="Trigger",
                ),
            ],
        ),
    ]
