from rest_framework import serializers

from core.inputs import locale_problem
from orgs.api import StrictEmailField, StrictModelSerializer, checked_by
from recipients.models import Recipient, clean_phone, normalize_email


class RecipientSerializer(StrictModelSerializer):
    email = StrictEmailField(required=False, allow_null=True, allow_blank=True, max_length=254)

    class Meta:
        model = Recipient
        fields = [
            "id", "email", "phone", "external_id", "first_name", "last_name", "locale", "timezone",
            "attributes", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"locale": {"validators": [checked_by(locale_problem)]}}

    def validate_email(self, value):
        value = normalize_email(value)
        if value and self._taken("email", value):
            raise serializers.ValidationError("Another recipient of this org has this email address.")
        return value

    def validate_external_id(self, value):
        value = value or None
        if value and self._taken("external_id", value):
            raise serializers.ValidationError("Another recipient of this org has this external id.")
        return value

    def validate_phone(self, value):
        return clean_phone(value)

    def validate_attributes(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def _taken(self, field: str, value: str) -> bool:
        others = Recipient.objects.filter(org=self.context["org"], **{field: value})
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        return others.exists()
