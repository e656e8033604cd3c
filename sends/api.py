"""The send log in the native API: /api/v1/sends/ (list, detail, re-trigger) and /api/v1/triggers/{id}/."""

import uuid

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from campaigns.models import Campaign
from mailings.models import Channel
from orgs.idempotency import IdempotentWritesMixin

from .models import DeliveryEvent, Send, Trigger
from .selectors import trigger_counts
from .serializers import SendSerializer
from .services import sends_retrigger


def _id(value: str) -> int:
    number = int(value)
    if not 0 < number < 2**63:
        raise ValueError(value)
    return number


def _campaign_id(org, key: str) -> str:
    found = Campaign.objects.filter(org=org, key=key).values_list("pk", flat=True).first()
    return str(found or 0)  # no such campaign: no sends, as a filter on its key gave


# query parameter -> (ORM lookup, parser that raises ValueError on a bad value)
SEND_FILTERS = {
    "correlation_id": ("correlation_id", uuid.UUID),
    "campaign": ("campaign_id", str),  # the key, resolved to the org's campaign first (see get_queryset)
    "recipient": ("recipient_id", _id),
    "trigger": ("trigger_id", _id),
    "status": ("status", Send.Status),
    "channel": ("channel", Channel),
}


@extend_schema_view(
    list=extend_schema(
        summary="The send log, newest first",
        parameters=[
            OpenApiParameter("correlation_id", uuid.UUID),
            OpenApiParameter("campaign", str, description="a campaign key"),
            OpenApiParameter("recipient", int),
            OpenApiParameter("trigger", int),
            OpenApiParameter("status", str, enum=Send.Status.values),
            OpenApiParameter("channel", str, enum=Channel.values),
        ],
    ),
    retrieve=extend_schema(summary="Every field of one send, its rendered content and events included"),
    retrigger=extend_schema(
        summary="Send it again, as a new send linked to this one",
        request=None,
        responses={202: SendSerializer},
    ),
)
class SendViewSet(
    IdempotentWritesMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = SendSerializer
    required_scopes = {"read": "read", "retrigger": "send"}
    queryset = Send.objects.none()  # what the OpenAPI generator sees; requests get their org's

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        queryset = (
            Send.objects.filter(org=self.request.user.org)
            .select_related("campaign", "trigger")
            .prefetch_related(
                Prefetch("events", queryset=DeliveryEvent.objects.order_by("occurred_at", "pk"))
            )
        )
        problems = {}
        for param, (lookup, parse) in SEND_FILTERS.items():
            value = self.request.query_params.get(param)
            if value is not None:
                try:
                    if param == "campaign":
                        # By the campaign's id, not a join on its key: the join kept the planner from the
                        # (campaign, org, -id) index, 176 ms for a small campaign among 10 million sends.
                        value = _campaign_id(self.request.user.org, value)
                    queryset = queryset.filter(**{lookup: parse(value)})
                except ValueError:
                    problems[param] = [f"'{value}' is not a valid {param}."]
        if problems:
            raise ValidationError(problems)
        return queryset.order_by("-id")

    @action(detail=True, methods=["post"])
    def retrigger(self, request, pk=None):
        [new_send] = sends_retrigger(sends=[self.get_object()], actor=request.user)
        return Response(SendSerializer(new_send).data, status=status.HTTP_202_ACCEPTED)


TriggerProgressSerializer = inline_serializer(
    "TriggerProgress",
    {
        "id": serializers.IntegerField(),
        "campaign": serializers.CharField(),
        "source": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "total": serializers.IntegerField(),
        "counts": serializers.DictField(child=serializers.IntegerField(), help_text="sends by status"),
        "done": serializers.BooleanField(),
    },
)


class TriggerViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    required_scope = "read"
    queryset = Trigger.objects.none()  # what the OpenAPI generator sees; requests get their org's

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return Trigger.objects.filter(org=self.request.user.org).select_related("campaign")

    @extend_schema(summary="A trigger's sends counted by status", responses=TriggerProgressSerializer)
    def retrieve(self, request, pk=None):
        trigger = self.get_object()
        counts = trigger_counts(trigger=trigger)
        return Response(
            {
                "id": trigger.pk,
                "campaign": trigger.campaign.key,
                "source": trigger.source,
                "created_at": trigger.created_at,
                "total": sum(counts.values()),
                "counts": counts,
                "done": all(status in Send.FINAL_STATUSES for status in counts),
            }
        )
