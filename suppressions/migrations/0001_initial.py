# Suppression as recipients created it: state only, on the table it made.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("orgs", "0006_apitoken_test"),
        ("sends", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Suppression",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "address",
                            models.CharField(
                                blank=True,
                                help_text="An email address (lower case) or a phone number; empty once erased (the hash remains).",
                                max_length=320,
                            ),
                        ),
                        ("address_hash", models.CharField(editable=False, max_length=64)),
                        (
                            "reason",
                            models.CharField(
                                choices=[
                                    ("bounced", "Bounced"),
                                    ("complained", "Complained"),
                                    ("unsubscribed", "Unsubscribed"),
                                    ("manual", "Manual"),
                                    ("erased", "Erased"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "scope",
                            models.CharField(
                                choices=[("all", "All mail"), ("marketing", "Marketing mail only")],
                                default="all",
                                max_length=16,
                            ),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "org",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="suppressions",
                                to="orgs.org",
                            ),
                        ),
                        (
                            "source_event",
                            models.ForeignKey(
                                blank=True,
                                help_text="The provider's event that caused it, if any.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="sends.deliveryevent",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-id"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("org", "address_hash"), name="suppression_address_hash_per_org"
                            )
                        ],
                    },
                ),
                migrations.AlterModelTable(name="suppression", table="recipients_suppression"),
            ],
        ),
    ]
