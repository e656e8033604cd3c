from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from rest_framework import serializers

from orgs.api import StrictModelSerializer
from recipients.models import normalize_address, normalize_phone
from suppressions.models import Suppression


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
