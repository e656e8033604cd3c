from rest_framework import serializers

from .models import DeliveryEvent, Send, Trigger


class DeliveryEventSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="event_type")

    class Meta:
        model = DeliveryEvent
        fields = ["type", "occurred_at", "esp_name", "description", "mta_response"]
        read_only_fields = fields


class SendSerializer(serializers.ModelSerializer):
    trigger = serializers.PrimaryKeyRelatedField(read_only=True)
    events = DeliveryEventSerializer(many=True, read_only=True)
    campaign = serializers.SlugRelatedField(slug_field="key", read_only=True)
    attachments = serializers.SerializerMethodField()

    class Meta:
        model = Send
        fields = [
            "id", "correlation_id", "status", "channel", "to_address", "trigger", "campaign", "mailing",
            "recipient", "retriggered_from", "locale", "subject", "text", "html", "context", "metadata",
            "attachments", "scheduled_at", "held", "timezone", "expires_at", "sent_at", "attempts",
            "provider_message_id", "last_error", "provider", "failover", "possibly_duplicated", "test",
            "events", "purged_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_attachments(self, send: Send) -> list[dict]:
        items = send.trigger.attachments if send.trigger_id else []
        return [{"filename": a["filename"], "content_type": a["content_type"]} for a in items or []]


class SendSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Send
        fields = ["id", "correlation_id", "recipient", "status", "last_error", "test"]
        read_only_fields = fields


class TriggerSerializer(serializers.ModelSerializer):
    campaign = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = Trigger
        fields = [
            "id", "campaign", "source", "reference", "cancellation_key", "send_count", "send_at", "created_at"
        ]  # fmt: skip
        read_only_fields = fields
