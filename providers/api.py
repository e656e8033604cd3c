"""/api/v1/providers/: an org's provider accounts, with the `providers` scope. Credentials go in and never
come out: an answer says which are set, never what they are."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from mailings.models import Channel
from orgs.api import OrgScopedViewSet, StrictModelSerializer

from .kinds import KIND_CHOICES, KINDS
from .models import Provider, tracking_url
from .services import (
    provider_create,
    provider_delete,
    provider_problems,
    provider_tracking_secret_new,
    provider_update,
    providers_reorder,
)


class ProviderSerializer(StrictModelSerializer):
    kind = serializers.ChoiceField(choices=KIND_CHOICES)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    options = serializers.DictField(required=False, help_text="Settings that are not secret, by kind.")
    credentials = serializers.DictField(
        child=serializers.CharField(trim_whitespace=False), write_only=True, required=False,
        help_text="Required when created; given on a change, replaces the stored ones whole. Never shown.",
    )  # fmt: skip
    tracking_url = serializers.SerializerMethodField(
        help_text="Where the account posts its delivery events, with `tracking_secret` as basic auth; "
        "null for a kind that posts none."
    )
    tracking_secret = serializers.SerializerMethodField(
        help_text="The `user:pass` its tracking webhooks carry: only in the answer that made it (the create, "
        "and POST …/tracking_secret/), never again."
    )
    credentials_set = serializers.ListField(
        source="credential_names", child=serializers.CharField(), read_only=True,
        help_text="The names of the credentials stored, never their values.",
    )  # fmt: skip

    class Meta:
        model = Provider
        fields = [
            "id", "channel", "kind", "name", "position", "enabled", "max_in_flight", "per_second", "options",
            "credentials", "credentials_set", "tracking_url", "tracking_secret", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_tracking_url(self, provider: Provider) -> str | None:
        return tracking_url(provider)

    def get_tracking_secret(self, provider: Provider) -> str | None:
        return getattr(provider, "tracking_secret", None)

    def validate(self, attrs: dict) -> dict:
        if self.instance is not None:
            for fixed in ("kind", "channel"):
                if fixed in attrs and attrs[fixed] != getattr(self.instance, fixed):
                    raise serializers.ValidationError({fixed: ["Cannot be changed: add another provider."]})
        kind = attrs.get("kind", getattr(self.instance, "kind", ""))
        problems = provider_problems(
            kind=kind,
            channel=attrs.get("channel", getattr(self.instance, "channel", None)) or _channel_of(kind),
            options=attrs.get("options", getattr(self.instance, "options", {})),
            credentials=attrs.get("credentials"),
            credentials_required=self.instance is None,
        )
        if problems:
            raise serializers.ValidationError({p.field: [p.message] for p in problems})
        others = Provider.objects.filter(org=self.context["org"], name=attrs.get("name"))
        if "name" in attrs and others.exclude(pk=getattr(self.instance, "pk", None)).exists():
            raise serializers.ValidationError({"name": ["The org has a provider of this name."]})
        return attrs


def _channel_of(kind: str) -> str:
    return KINDS[kind].channel if kind in KINDS else ""


class ReorderSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices)
    order = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=100)


class ProviderViewSet(OrgScopedViewSet):
    """Provider accounts are tried in `position` order per channel; an org with none uses the server's."""

    serializer_class = ProviderSerializer
    model = Provider
    required_scopes = {"read": "providers", "write": "providers"}
    idempotency_unrecorded_fields = frozenset({"tracking_secret"})

    def perform_create(self, serializer):
        serializer.instance = provider_create(
            org=self.org, actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        changes = {k: v for k, v in serializer.validated_data.items() if k not in ("kind", "channel")}
        serializer.instance = provider_update(
            provider=serializer.instance, actor=self.request.user, **changes
        )

    def perform_destroy(self, instance):
        provider_delete(provider=instance, actor=self.request.user)

    @extend_schema(request=ReorderSerializer, responses=ProviderSerializer(many=True))
    @action(detail=False, methods=["post"])
    def reorder(self, request):
        body = ReorderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        providers = providers_reorder(
            org=self.org, channel=body.validated_data["channel"], ids=body.validated_data["order"],
            actor=request.user,
        )  # fmt: skip
        return Response(ProviderSerializer(providers, many=True).data, status=status.HTTP_200_OK)

    @extend_schema(request=None, responses=ProviderSerializer)
    @action(detail=True, methods=["post"])
    def tracking_secret(self, request, pk=None):
        """A new secret for the account's tracking webhooks, in this answer only; the old one stops."""
        provider = self.get_object()
        provider_tracking_secret_new(provider=provider, actor=request.user)
        return Response(ProviderSerializer(provider, context=self.get_serializer_context()).data)
