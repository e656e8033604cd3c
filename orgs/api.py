from django.db import models
from rest_framework import serializers, viewsets

from core.inputs import name_problem
from orgs.idempotency import IdempotentWritesMixin
from orgs.models import Org


class OrgScopedViewSet(IdempotentWritesMixin, viewsets.ModelViewSet):
    """A viewset over one org's objects: another org's object is simply not there (404)."""

    required_scopes = {"read": "read", "write": "manage"}
    model = None

    @property
    def org(self) -> Org:
        return self.request.user.org

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI generator has no org
            return self.model.objects.none()
        return self.model.objects.filter(org=self.org)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "org": self.org if self.request else None}

    def perform_create(self, serializer):
        serializer.save(org=self.org)


class StrictBooleanField(serializers.BooleanField):
    """true or false, as the schema says: DRF alone would also take 0, 1, "yes" and "on"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    """A JSON string, as the schema says: DRF alone would turn 0 into "0"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictLineField(StrictCharField):
    """One line of text (a name, an id, an address): no line breaks or other control characters.

    Such values end up in email headers and logs, where a line break starts a line of the sender's choosing.
    """

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        problem = name_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class StrictEmailField(StrictLineField, serializers.EmailField):
    pass


def checked_by(problem_of):
    """A serializer field validator from one of core.inputs' checks (a message, or None when it is fine)."""

    def validate(value):
        problem = problem_of(value) if isinstance(value, str) and value else None
        if problem:
            raise serializers.ValidationError(problem)

    return validate


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not "5", 5.0 or true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer):
    """Takes each field in the JSON type the OpenAPI schema gives it, and nothing it would have to coerce."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictLineField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.BooleanField: StrictBooleanField,
    }
