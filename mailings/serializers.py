from rest_framework import serializers

from orgs.api import StrictModelSerializer

from .models import DeliveryEvent, Mailing, Send
from .rendering import check_context_schema, check_templates, check_translations


class MailingSerializer(StrictModelSerializer):
    class Meta:
        model = Mailing
        fields = [
            "id", "name", "channel", "from_email", "reply_to", "subject", "text", "html", "default_locale",
            "translations", "context_schema", "sample_context", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_translations(self, value):
        problems = check_translations(value)
        if problems:
            raise serializers.ValidationError({key or "translations": [msg] for key, msg in problems.items()})
        return value

    def validate_context_schema(self, value):
        problem = check_context_schema(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs):
        parts = {k: attrs[k] for k in ("subject", "text", "html") if k in attrs}
        broken = check_templates(**parts)
        if broken:
            raise serializers.ValidationError(
                {part: [f"Template error: {msg}"] for part, msg in broken.items()}
            )
        channel = attrs.get("channel", getattr(self.instance, "channel", None))
        if self.instance is not None and channel != self.instance.channel and self.instance.in_use:
            raise serializers.ValidationError(
                {"channel": ["A campaign sends this mailing; keep its channel."]}
            )
        return attrs


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
            "attachments", "scheduled_at", "expires_at", "sent_at", "attempts", "provider_message_id",
            "last_error", "possibly_duplicated", "test", "events", "purged_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_attachments(self, send: Send) -> list[dict]:
        items = send.trigger.attachments if send.trigger_id else []
        return [{"filename": a["filename"], "content_type": a["content_type"]} for a in items or []]


class SendSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Send
        fields = ["id", "correlation_id", "recipient", "status", "test"]
        read_only_fields = fields
