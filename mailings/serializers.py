import jsonschema
from rest_framework import serializers

from .models import Mailing, Send
from .rendering import check_templates

TRANSLATION_PARTS = {"subject", "text", "html"}


class MailingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Mailing
        fields = [
            "id", "name", "channel", "from_email", "reply_to", "subject", "text", "html", "default_locale",
            "translations", "context_schema", "sample_context", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_translations(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError('Must be an object such as {"de": {"subject": "…"}}.')
        errors = {}
        for locale, content in value.items():
            if not isinstance(content, dict) or not set(content) <= TRANSLATION_PARTS:
                errors[locale] = ["Must be an object with any of subject, text, html."]
                continue
            broken = check_templates(**{k: v for k, v in content.items() if isinstance(v, str)})
            if broken:
                errors[locale] = {part: [f"Template error: {msg}"] for part, msg in broken.items()}
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def validate_context_schema(self, value):
        if value is None:
            return value
        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            raise serializers.ValidationError(f"Not a valid JSON Schema: {exc.message}") from exc
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


class SendSerializer(serializers.ModelSerializer):
    trigger = serializers.PrimaryKeyRelatedField(read_only=True)
    campaign = serializers.SlugRelatedField(slug_field="key", read_only=True)
    attachments = serializers.SerializerMethodField()

    class Meta:
        model = Send
        fields = [
            "id", "correlation_id", "status", "channel", "to_address", "trigger", "campaign", "mailing",
            "recipient", "retriggered_from", "locale", "subject", "text", "html", "context", "metadata",
            "attachments", "scheduled_at", "expires_at", "sent_at", "attempts", "provider_message_id",
            "last_error", "possibly_duplicated", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_attachments(self, send: Send) -> list[dict]:
        items = send.trigger.attachments if send.trigger_id else []
        return [{"filename": a["filename"], "content_type": a["content_type"]} for a in items or []]


class SendSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Send
        fields = ["id", "correlation_id", "recipient", "status"]
        read_only_fields = fields
