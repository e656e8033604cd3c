"""The native trigger API: POST /campaigns/{key}/trigger/, an action of the campaigns' own viewset."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from campaigns import api as campaigns_api
from core.errors import Invalid, Problem
from core.inputs import datetime_parse
from orgs.idempotency import request_fingerprint
from sends.serializers import SendSummarySerializer

from .accept import TriggerResult, trigger_accept
from .commands import AttachmentSpec, RecipientSpec, TriggerCommand
from .validation import schema_problems, trigger_schema

TriggerAcceptedSerializer = inline_serializer(
    "TriggerAccepted",
    {"trigger": serializers.IntegerField(), "sends": SendSummarySerializer(many=True)},
)


class CampaignViewSet(campaigns_api.CampaignViewSet):
    """The campaigns' viewset with its trigger action: what /api/v1/campaigns/ serves."""

    idempotency_handled_by_action = frozenset({"trigger"})
    required_scopes = {**campaigns_api.CampaignViewSet.required_scopes, "trigger": "send"}

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
        idempotency_key = request.headers.get("Idempotency-Key")
        # The key names the event in the caller's system (docs/api.md): without a reference, it is the one.
        command.reference = command.reference or idempotency_key or ""
        result = trigger_accept(
            org=self.org,
            campaign=campaign,
            command=command,
            token=request.auth,
            idempotency_key=idempotency_key,
            fingerprint=request_fingerprint([campaign.key, request.data]),
        )
        return Response(trigger_response(result), status=status.HTTP_202_ACCEPTED)


def parse_trigger(data) -> TriggerCommand:
    problems = schema_problems(trigger_schema(settings.HERALD_MAX_BATCH), data)
    dates = {}
    for name in ("send_at", "expires_at"):
        value = data.get(name) if isinstance(data, dict) else None
        if isinstance(value, str):
            dates[name], problem = datetime_parse(value, field=name)
            if problem:
                problems.append(problem)
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
        reference=data.get("reference") or "",
        cancellation_key=data.get("cancellation_key") or "",
        dedup_key=data.get("dedup_key") or "",
    )


def trigger_response(result: TriggerResult) -> dict:
    return {"trigger": result.trigger.pk, "sends": SendSummarySerializer(result.sends, many=True).data}
