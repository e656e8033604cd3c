from rest_framework import serializers

from mailings.models import Mailing
from mailings.rendering import check_context_schema, check_templates, check_translations
from orgs.api import StrictModelSerializer


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
