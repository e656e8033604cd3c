# The webhook models as mailings created them: state only, on the tables it made.

import django.utils.timezone
import outbound_webhooks.models
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="WebhookAttempt",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "url",
                            models.CharField(
                                help_text="Where it went last, after any redirects.", max_length=2000
                            ),
                        ),
                        ("status_code", models.PositiveIntegerField(blank=True, null=True)),
                        ("error", models.TextField(blank=True, default="")),
                        ("duration_ms", models.PositiveIntegerField(default=0)),
                    ],
                    options={
                        "ordering": ["at", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="WebhookDelivery",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("public_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        (
                            "event",
                            models.CharField(
                                help_text="The send status this notification tells of.", max_length=12
                            ),
                        ),
                        ("payload", models.JSONField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("delivered", "Delivered"),
                                    ("failed", "Failed"),
                                ],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        (
                            "next_attempt_at",
                            models.DateTimeField(
                                blank=True,
                                help_text="When the sweep hands it to a worker (again), if nothing has.",
                                null=True,
                            ),
                        ),
                        (
                            "retry_until",
                            models.DateTimeField(help_text="A failed attempt at or after this gives up."),
                        ),
                        ("last_status_code", models.PositiveIntegerField(blank=True, null=True)),
                        ("last_error", models.TextField(blank=True, default="")),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "verbose_name_plural": "webhook deliveries",
                        "ordering": ["-id"],
                    },
                ),
                migrations.CreateModel(
                    name="WebhookEndpoint",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("url", models.CharField(max_length=2000)),
                        (
                            "events",
                            models.JSONField(
                                blank=True,
                                default=list,
                                help_text="Send statuses to notify; empty: every final outcome.",
                            ),
                        ),
                        ("format", models.CharField(default="native", max_length=16)),
                        (
                            "secret",
                            models.CharField(
                                default=outbound_webhooks.models.new_webhook_secret,
                                editable=False,
                                max_length=64,
                            ),
                        ),
                        ("active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        "ordering": ["id"],
                    },
                ),
                migrations.AlterModelTable(name="webhookattempt", table="mailings_webhookattempt"),
                migrations.AlterModelTable(name="webhookdelivery", table="mailings_webhookdelivery"),
                migrations.AlterModelTable(name="webhookendpoint", table="mailings_webhookendpoint"),
            ],
        ),
    ]
