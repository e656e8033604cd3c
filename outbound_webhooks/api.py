"""/api/v1/webhooks/: an org's endpoints for what became of its sends, and each endpoint's deliveries."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from orgs.api import OrgScopedViewSet, StrictCharField, StrictModelSerializer
from outbound_webhooks.endpoints import format_choices, webhook_endpoint_problems
from outbound_webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from outbound_webhooks.payloads import NATIVE


class WebhookEndpointSerializer(StrictModelSerializer):
    """A URL told of the outcomes of this org's sends. Its signing secret is shown only when it is created."""

    url = StrictCharField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=list(NATIVE.statuses)),
        required=False,
        max_length=len(NATIVE.statuses),
        help_text="Send statuses (and `unsubscribed`) to be told of; empty or left out: all of them.",
    )

    format = serializers.ChoiceField(choices=[], required=False, default=NATIVE.name)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "format", "active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["format"].choices = format_choices()  # the dialects' formats are registered by now

    def validate_events(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate(self, attrs: dict) -> dict:
        def current(name: str, default):
            return attrs.get(name, getattr(self.instance, name, default))

        problems = webhook_endpoint_problems(
            url=current("url", ""),
            events=current("events", []),
            format=current("format", NATIVE.name),
        )
        if "url" not in attrs:
            # A change that leaves the URL alone is not refused for a URL that was accepted when it was set.
            problems = [p for p in problems if p.field != "url"]
        if problems:
            raise serializers.ValidationError({p.field: [p.message] for p in problems})
        return attrs


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The endpoint just created, with its signing secret: the one time it is shown."""

    secret = serializers.CharField(
        read_only=True, help_text="Signs every delivery. Shown in this response only: keep it now."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["at", "url", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One notification of one outcome, and every attempt to post it."""

    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "public_id", "event", "send", "status", "payload", "attempts", "next_attempt_at",
            "retry_until", "last_status_code", "last_error", "created_at", "delivered_at", "attempt_log",
        ]  # fmt: skip
        read_only_fields = fields


@extend_schema_view(
    create=extend_schema(
        summary="Subscribe a URL; the answer holds the signing secret, shown this once",
        responses={201: WebhookEndpointCreatedSerializer},
    ),
    deliveries=extend_schema(
        summary="The endpoint's deliveries, newest first, each with every attempt",
        responses=WebhookDeliverySerializer(many=True),
    ),
)
class WebhookEndpointViewSet(OrgScopedViewSet):
    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer

    def create(self, request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = serializer.save(org=self.org)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None) -> Response:
        deliveries = self.get_object().deliveries.prefetch_related("attempt_log").order_by("-id")
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
