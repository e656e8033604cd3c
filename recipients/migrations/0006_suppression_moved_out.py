# Suppression moved to suppressions/ (it names the delivery event that caused it, which the send log holds):
# it leaves this app's state; the table stays until suppressions 0002 renames it.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("recipients", "0005_suppression_scope_and_address_hash"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="Suppression",
                ),
            ],
        ),
    ]
