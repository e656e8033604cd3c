# The send log moved to sends/ and the webhooks to outbound_webhooks/: their models leave this app's state;
# the tables stay as they are until the new apps rename them (sends 0002, outbound_webhooks 0003).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mailings", "0009_send_content_lz4"),
        ("recipients", "0006_suppression_moved_out"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="send",
                    name="campaign",
                ),
                migrations.RemoveField(
                    model_name="send",
                    name="mailing",
                ),
                migrations.RemoveField(
                    model_name="send",
                    name="org",
                ),
                migrations.RemoveField(
                    model_name="send",
                    name="recipient",
                ),
                migrations.RemoveField(
                    model_name="send",
                    name="retriggered_from",
                ),
                migrations.RemoveField(
                    model_name="send",
                    name="trigger",
                ),
                migrations.RemoveField(
                    model_name="webhookdelivery",
                    name="send",
                ),
                migrations.RemoveField(
                    model_name="sendattempt",
                    name="send",
                ),
                migrations.RemoveField(
                    model_name="webhookattempt",
                    name="delivery",
                ),
                migrations.RemoveField(
                    model_name="webhookdelivery",
                    name="endpoint",
                ),
                migrations.RemoveField(
                    model_name="webhookendpoint",
                    name="org",
                ),
                migrations.DeleteModel(
                    name="DeliveryEvent",
                ),
                migrations.DeleteModel(
                    name="Send",
                ),
                migrations.DeleteModel(
                    name="SendAttempt",
                ),
                migrations.DeleteModel(
                    name="WebhookAttempt",
                ),
                migrations.DeleteModel(
                    name="WebhookDelivery",
                ),
                migrations.DeleteModel(
                    name="WebhookEndpoint",
                ),
            ],
        ),
    ]
