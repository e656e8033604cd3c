# The webhook models' relations as mailings created them: state only.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("orgs", "0006_apitoken_test"),
        ("outbound_webhooks", "0001_initial"),
        ("sends", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="webhookdelivery",
                    name="send",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="webhook_deliveries",
                        to="sends.send",
                    ),
                ),
                migrations.AddField(
                    model_name="webhookattempt",
                    name="delivery",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempt_log",
                        to="outbound_webhooks.webhookdelivery",
                    ),
                ),
                migrations.AddField(
                    model_name="webhookendpoint",
                    name="org",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhook_endpoints",
                        to="orgs.org",
                    ),
                ),
                migrations.AddField(
                    model_name="webhookdelivery",
                    name="endpoint",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="outbound_webhooks.webhookendpoint",
                    ),
                ),
                migrations.AddIndex(
                    model_name="webhookendpoint",
                    index=models.Index(
                        condition=models.Q(("active", True)), fields=["org"], name="webhook_active"
                    ),
                ),
                migrations.AddIndex(
                    model_name="webhookdelivery",
                    index=models.Index(fields=["endpoint", "-id"], name="webhook_delivery_latest"),
                ),
                migrations.AddIndex(
                    model_name="webhookdelivery",
                    index=models.Index(
                        condition=models.Q(("status", "pending")),
                        fields=["next_attempt_at"],
                        name="webhook_delivery_due",
                    ),
                ),
            ],
        ),
    ]
