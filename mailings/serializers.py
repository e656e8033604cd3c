from rest_framework import serializers

from core.inputs import locale_problem, name_problem, sender_problem
from mailings.models import Mailing
from mailings.rendering import check_context_schema, check_templates, check_translations
from orgs.api import StrictModelSerializer, checked_by


class MailingSerializer(StrictModelSerializer):
    class Meta:
        model = Mailing
        fields = [
            "id", "name", "channel", "from_email", "reply_to", "subject", "text", "html", "default_locale",
            "translations", "context_schema", "sample_context", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]
        # Each becomes a header of every message: one address each, and no line to inject another header.
        extra_kwargs = {
            "from_email": {"validators": [checked_by(sender_problem)]},
            "reply_to": {"validators": [checked_by(sender_problem)]},
            "default_locale": {"validators": [checked_by(locale_problem)]},
        }

    def validate_translations(self, value):
        problems = check_translations(value)
        if isinstance(value, dict):
            problems.update({key: locale_problem(key) for key in value if locale_problem(key)})
            # A translated subject is the Subject header, as the mailing's own is: one line.
            subjects = {f"{key}.subject": c.get("subject") for key, c in value.items() if isinstance(c, dict)}
            problems.update(
                {
                    key: name_problem(s)
                    for key, s in subjects.items()
                    if isinstance(s, str) and name_problem(s)
                }
            )
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
