# The send log's models as mailings and campaigns created them: state only, on the tables they made.

import django.db.models.deletion
import django.utils.timezone
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("campaigns", "0005_trigger_moved_to_sends"),
        ("mailings", "0010_send_log_and_webhooks_moved_out"),
        ("orgs", "0006_apitoken_test"),
        ("recipients", "0006_suppression_moved_out"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Send",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "mailing_version",
                            models.PositiveIntegerField(
                                blank=True,
                                help_text="The version of the mailing it was rendered from.",
                                null=True,
                            ),
                        ),
                        ("correlation_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("scheduled", "Scheduled"),
                                    ("sending", "Sending"),
                                    ("sent", "Sent"),
                                    ("delivered", "Delivered"),
                                    ("bounced", "Bounced"),
                                    ("complained", "Complained"),
                                    ("rejected", "Rejected"),
                                    ("failed", "Failed"),
                                    ("suppressed", "Suppressed"),
                                    ("expired", "Expired"),
                                ],
                                default="queued",
                                max_length=12,
                            ),
                        ),
                        (
                            "channel",
                            models.CharField(choices=[("email", "Email"), ("sms", "SMS")], max_length=8),
                        ),
                        ("to_address", models.CharField(max_length=320)),
                        ("locale", models.CharField(blank=True, default="", max_length=35)),
                        (
                            "from_email",
                            models.CharField(
                                blank=True, default="", help_text="Overrides the mailing's.", max_length=320
                            ),
                        ),
                        ("context", models.JSONField(blank=True, default=dict)),
                        (
                            "metadata",
                            models.JSONField(
                                blank=True, default=dict, help_text="Caller's data kept with the send."
                            ),
                        ),
                        ("subject", models.TextField(blank=True, default="")),
                        ("text", models.TextField(blank=True, default="")),
                        ("html", models.TextField(blank=True, default="")),
                        ("scheduled_at", models.DateTimeField(blank=True, null=True)),
                        ("expires_at", models.DateTimeField(blank=True, null=True)),
                        ("queued_at", models.DateTimeField(blank=True, null=True)),
                        ("claimed_at", models.DateTimeField(blank=True, null=True)),
                        ("claim_token", models.UUIDField(blank=True, editable=False, null=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("provider_message_id", models.CharField(blank=True, default="", max_length=255)),
                        ("last_error", models.TextField(blank=True, default="")),
                        (
                            "test",
                            models.BooleanField(
                                default=False,
                                help_text="Made with a test API key: rendered and recorded, never given to a provider.",
                            ),
                        ),
                        (
                            "possibly_duplicated",
                            models.BooleanField(
                                default=False,
                                help_text="Re-dispatched after its worker died mid-send: the provider may have had it already.",
                            ),
                        ),
                        ("purged_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "campaign",
                            models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="sends",
                                to="campaigns.campaign",
                            ),
                        ),
                        (
                            "mailing",
                            models.ForeignKey(
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="sends",
                                to="mailings.mailing",
                            ),
                        ),
                        (
                            "org",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sends",
                                to="orgs.org",
                            ),
                        ),
                        (
                            "recipient",
                            models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="sends",
                                to="recipients.recipient",
                            ),
                        ),
                        (
                            "retriggered_from",
                            models.ForeignKey(
                                blank=True,
                                db_index=False,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="retriggers",
                                to="sends.send",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-id"],
                    },
                ),
                migrations.CreateModel(
                    name="SendAttempt",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "number",
                            models.PositiveIntegerField(help_text="The send's attempt count when it ended."),
                        ),
                        ("at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "outcome",
                            models.CharField(
                                help_text="The status the attempt left the send in.", max_length=12
                            ),
                        ),
                        ("error", models.TextField()),
                        (
                            "send",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="attempt_errors",
                                to="sends.send",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["at", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="Trigger",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "source",
                            models.CharField(
                                default="api", help_text="api, admin, or the vendor dialect.", max_length=32
                            ),
                        ),
                        (
                            "reference",
                            models.CharField(
                                blank=True,
                                default="",
                                help_text="The caller's own id for this request.",
                                max_length=200,
                            ),
                        ),
                        ("context", models.JSONField(blank=True, null=True)),
                        ("attachments", models.JSONField(blank=True, default=list)),
                        (
                            "channel",
                            models.CharField(
                                blank=True,
                                choices=[("email", "Email"), ("sms", "SMS")],
                                default="",
                                max_length=8,
                            ),
                        ),
                        ("locale", models.CharField(blank=True, default="", max_length=35)),
                        ("send_at", models.DateTimeField(blank=True, null=True)),
                        ("expires_at", models.DateTimeField(blank=True, null=True)),
                        ("idempotency_key", models.CharField(blank=True, max_length=255, null=True)),
                        ("request_fingerprint", models.CharField(blank=True, default="", max_length=64)),
                        ("send_count", models.PositiveIntegerField(default=0)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "campaign",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="triggers",
                                to="campaigns.campaign",
                            ),
                        ),
                        (
                            "org",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="triggers",
                                to="orgs.org",
                            ),
                        ),
                        (
                            "token",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="orgs.apitoken",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-id"],
                    },
                ),
                migrations.AddField(
                    model_name="send",
                    name="trigger",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sends",
                        to="sends.trigger",
                    ),
                ),
                migrations.CreateModel(
                    name="DeliveryEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("esp_name", models.CharField(max_length=32)),
                        (
                            "event_type",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("sent", "Sent"),
                                    ("rejected", "Rejected"),
                                    ("failed", "Failed"),
                                    ("bounced", "Bounced"),
                                    ("deferred", "Deferred"),
                                    ("delivered", "Delivered"),
                                    ("autoresponded", "Autoresponded"),
                                    ("opened", "Opened"),
                                    ("clicked", "Clicked"),
                                    ("complained", "Complained"),
                                    ("unsubscribed", "Unsubscribed"),
                                    ("subscribed", "Subscribed"),
                                    ("unknown", "Unknown"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("provider_message_id", models.CharField(blank=True, default="", max_length=255)),
                        ("provider_event_id", models.CharField(blank=True, default="", max_length=255)),
                        ("occurred_at", models.DateTimeField(blank=True, null=True)),
                        ("address", models.CharField(blank=True, default="", max_length=320)),
                        ("description", models.TextField(blank=True, default="")),
                        ("mta_response", models.TextField(blank=True, default="")),
                        ("reject_reason", models.CharField(blank=True, default="", max_length=16)),
                        (
                            "payload",
                            models.JSONField(
                                blank=True, help_text="The provider's event as it came.", null=True
                            ),
                        ),
                        ("dedupe_key", models.CharField(editable=False, max_length=64)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "org",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="delivery_events",
                                to="orgs.org",
                            ),
                        ),
                        (
                            "send",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="events",
                                to="sends.send",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["occurred_at", "id"],
                        "indexes": [
                            models.Index(fields=["send", "occurred_at"], name="delivery_event_send"),
                            models.Index(
                                condition=models.Q(("send__isnull", True)),
                                fields=["-created_at"],
                                name="delivery_event_unmatched",
                            ),
                        ],
                        "constraints": [
                            models.UniqueConstraint(fields=("dedupe_key",), name="delivery_event_once")
                        ],
                    },
                ),
                migrations.AddConstraint(
                    model_name="trigger",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("idempotency_key__isnull", False)),
                        fields=("org", "idempotency_key"),
                        name="trigger_idempotency_key_per_org",
                    ),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(fields=["campaign", "org", "-id"], name="send_campaign_latest_id"),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(fields=["recipient", "-id"], name="send_recipient_latest_id"),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(fields=["org", "status", "-id"], name="send_status_latest"),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(
                        condition=models.Q(("provider_message_id", ""), _negated=True),
                        fields=["provider_message_id"],
                        name="send_provider_message",
                    ),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(
                        condition=models.Q(("retriggered_from__isnull", False)),
                        fields=["retriggered_from"],
                        name="send_retriggered_from",
                    ),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(fields=["to_address", "-id"], name="send_to_address_latest"),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(
                        fields=["created_at", "status", "campaign"], name="send_created_covering"
                    ),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(
                        condition=models.Q(("status", "scheduled")), fields=["scheduled_at"], name="send_due"
                    ),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(
                        condition=models.Q(("status", "queued")), fields=["queued_at"], name="send_queued"
                    ),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(
                        condition=models.Q(("status", "sending")), fields=["claimed_at"], name="send_sending"
                    ),
                ),
                migrations.AddIndex(
                    model_name="send",
                    index=models.Index(
                        condition=models.Q(("purged_at__isnull", True)),
                        fields=["org", "created_at"],
                        name="send_retention",
                    ),
                ),
                migrations.AlterModelTable(name="send", table="mailings_send"),
                migrations.AlterModelTable(name="sendattempt", table="mailings_sendattempt"),
                migrations.AlterModelTable(name="trigger", table="campaigns_trigger"),
                migrations.AlterModelTable(name="deliveryevent", table="mailings_deliveryevent"),
            ],
        ),
    ]
