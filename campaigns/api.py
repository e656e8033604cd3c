"""The native trigger API: campaigns, POST /campaigns/{key}/trigger/, and trigger progress."""

from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from mailings.models import Send
from mailings.serializers import SendSummarySerializer
from orgs.api import OrgScopedViewSet
from orgs.errors import Invalid, Problem
from orgs.idempotency import request_fingerprint

from .intake import AttachmentSpec, RecipientSpec, TriggerCommand
from .models import Campaign, Trigger
from .schemas import schema_problems, trigger_schema
from .serializers import CampaignSerializer
from .services import TriggerResult, trigger_accept, trigger_counts

TriggerAcceptedSerializer = inline_serializer(
    "TriggerAccepted",
    {"trigger": serializers.IntegerField(), "sends": SendSummarySerializer(many=True)},
)
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


class CampaignViewSet(OrgScopedViewSet):
    model = Campaign
    serializer_class = CampaignSerializer
    lookup_field = "key"
    idempotency_handled_by_action = frozenset({"trigger"})
    lookup_value_regex = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
    required_scopes = {"read": "read", "write": "manage", "trigger": "send"}

    def get_queryset(self):
        return super().get_queryset().select_related("email_mailing", "sms_mailing")

    @extend_schema(
        summary="Trigger the campaign for 1 to 1,000 recipients",
        request={"application/json": trigger_schema(settings.HERALD_MAX_BATCH)},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="The same key and body answer the first response again and create nothing.",
            )  # fmt: skip
        ],
        responses={202: OpenApiResponse(TriggerAcceptedSerializer, "Accepted: the trigger and its sends.")},
    )
    @action(detail=True, methods=["post"])
    def trigger(self, request, key=None):
        campaign = self.get_object()
        command = parse_trigger(request.data)
        result = trigger_accept(
            org=self.org,
            campaign=campaign,
            command=command,
            token=request.auth,
            idempotency_key=request.headers.get("Idempotency-Key"),
            fingerprint=request_fingerprint([campaign.key, request.data]),
        )
        return Response(trigger_response(result), status=status.HTTP_202_ACCEPTED)


def parse_trigger(data) -> TriggerCommand:
    problems = schema_problems(trigger_schema(settings.HERALD_MAX_BATCH), data)
    dates = {}
    for name in ("send_at", "expires_at"):
        value = data.get(name) if isinstance(data, dict) else None
        if isinstance(value, str):
            dates[name] = _parse_datetime(value)
            if dates[name] is None:
                problems.append(Problem(name, f"'{value}' is not an ISO 8601 date-time with a time zone."))
    if isinstance(data, dict) and "delay" in data and "send_at" in data:
        problems.append(Problem("send_at", "Give either delay or send_at, not both."))
    if problems:
        raise Invalid(
            f"The trigger request has {len(problems)} problem(s). Nothing was stored.", problems=problems
        )
    return TriggerCommand(
        recipients=[RecipientSpec(**r) for r in data["recipients"]],
        context=data.get("context"),
        channel=data.get("channel"),
        locale=data.get("locale"),
        delay=data.get("delay"),
        send_at=dates.get("send_at"),
        expires_at=dates.get("expires_at"),
        attachments=[
            AttachmentSpec(a["filename"], a.get("content_type") or "application/octet-stream", a["content"])
            for a in data.get("attachments", [])
        ],
    )


def _parse_datetime(value: str):
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def trigger_response(result: TriggerResult) -> dict:
    return {"trigger": result.trigger.pk, "sends": SendSummarySerializer(result.sends, many=True).data}


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
