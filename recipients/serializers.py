from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from rest_framework import serializers

from orgs.api import StrictEmailField, StrictModelSerializer
from recipients.models import (
    Recipient,
    Suppression,
    clean_phone,
    normalize_address,
    normalize_email,
    normalize_phone,
)


class RecipientSerializer(StrictModelSerializer):
    email = StrictEmailField(required=False, allow_null=True, allow_blank=True, max_length=254)

    class Meta:
        model = Recipient
        fields = [
            "id", "email", "phone", "external_id", "first_name", "last_name", "locale", "attributes",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]

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


class SuppressionSerializer(StrictModelSerializer):
    source_event = serializers.SerializerMethodField()

    class Meta:
        model = Suppression
        fields = ["id", "address", "reason", "scope", "source_event", "created_at"]
        read_only_fields = ["id", "reason", "source_event", "created_at"]
        # Blank only once erased, which no request does.
        extra_kwargs = {"address": {"required": True, "allow_blank": False}}

    def validate_address(self, value: str) -> str:
        address = normalize_address(value)
        if "@" in address:
            try:
                validate_email(address)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(f"'{value}' is not a valid email address.") from exc
        elif normalize_phone(address) is None:
            raise serializers.ValidationError(f"'{value}' is neither an email address nor a phone number.")
        return address

    def get_source_event(self, suppression: Suppression) -> dict | None:
        event = suppression.source_event
        if event is None:
            return None
        return {"type": event.event_type, "occurred_at": event.occurred_at, "send": event.send_id}
