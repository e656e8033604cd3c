"""The send log in the native API: /api/v1/sends/ (list, detail, re-trigger) and /api/v1/triggers/."""

from django.db.models import Prefetch, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from campaigns.models import Campaign
from core.errors import Invalid, NotFound, Problem
from core.inputs import name_problem
from mailings.models import Channel
from orgs.idempotency import IdempotentWritesMixin

from .models import DeliveryEvent, Send, Trigger
from .selectors import REFERENCE_MAX, sends_by_caller_id, trigger_counts, trigger_ids_by_reference
from .serializers import SendSerializer, TriggerSerializer
from .services import sends_retrigger, triggers_cancel


def _id(value: str) -> int:
    number = int(value)
    if not 0 < number < 2**63:
        raise ValueError(value)
    return number


def _campaign_id(org, key: str) -> str:
    found = Campaign.objects.filter(org=org, key=key).values_list("pk", flat=True).first()
    return str(found or 0)  # no such campaign: no sends, as a filter on its key gave


def _caller_id(value: str) -> str:
    if not 0 < len(value) <= REFERENCE_MAX:
        raise ValueError(value)
    return value


def _invalid(param: str, value: str) -> str:
    return f"'{value}' is not a valid {param}: give 1 to {REFERENCE_MAX} characters."


# query parameter -> (ORM lookup, parser that raises ValueError on a bad value)
SEND_FILTERS = {
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
            OpenApiParameter(
                "correlation_id",
                str,
                description="Herald's correlation id of one send, or the caller's own id for a trigger (as "
                "`reference`): either finds its sends.",
            ),
            OpenApiParameter(
                "reference",
                str,
                description="The caller's own id for a trigger: parcelLab's correlationId, Marketing Cloud's "
                "requestId, the native `reference` or an Idempotency-Key. Its trigger's sends.",
            ),
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
        org = self.request.user.org
        queryset = (
            Send.objects.filter(org=org)
            .select_related("campaign", "trigger")
            .prefetch_related(
                Prefetch("events", queryset=DeliveryEvent.objects.order_by("occurred_at", "pk"))
            )
        )
        problems = {}
        for param, found in (("correlation_id", sends_by_caller_id), ("reference", _sends_by_reference)):
            value = self.request.query_params.get(param)
            if value is not None:
                try:
                    queryset = queryset.filter(found(org=org, value=_caller_id(value)))
                except ValueError:
                    problems[param] = [_invalid(param, value)]
        for param, (lookup, parse) in SEND_FILTERS.items():
            value = self.request.query_params.get(param)
            if value is not None:
                try:
                    if param == "campaign":
                        # By the campaign's id, not a join on its key: the join kept the planner from the
                        # (campaign, org, -id) index, 176 ms for a small campaign among 10 million sends.
                        value = _campaign_id(org, value)
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


def _sends_by_reference(*, org, value: str) -> Q:
    return Q(trigger_id__in=trigger_ids_by_reference(reference=value, org=org))


TriggerProgressSerializer = inline_serializer(
    "TriggerProgress",
    {
        "id": serializers.IntegerField(),
        "campaign": serializers.CharField(),
        "source": serializers.CharField(),
        "reference": serializers.CharField(help_text="the caller's own id for the trigger; empty if none"),
        "created_at": serializers.DateTimeField(),
        "total": serializers.IntegerField(),
        "counts": serializers.DictField(child=serializers.IntegerField(), help_text="sends by status"),
        "done": serializers.BooleanField(),
    },
)


CancelRequestSerializer = inline_serializer(
    "TriggerCancelRequest",
    {
        "cancellation_key": serializers.CharField(required=False, help_text="every trigger given this key"),
        "trigger": serializers.IntegerField(required=False, help_text="one trigger, by Herald's id"),
        "reference": serializers.CharField(required=False, help_text="every trigger with this caller's id"),
    },
)
CancellationSerializer = inline_serializer(
    "TriggerCancellation",
    {
        "triggers": serializers.IntegerField(help_text="triggers named by the request"),
        "cancelled": serializers.IntegerField(help_text="sends cancelled by this request"),
        "already_cancelled": serializers.IntegerField(),
        "gone": serializers.IntegerField(help_text="sends dispatched, or ended, before the cancel"),
    },
)
CANCEL_BY = ("cancellation_key", "trigger", "reference")


@extend_schema_view(
    list=extend_schema(
        summary="Triggers, newest first",
        parameters=[
            OpenApiParameter(
                "reference",
                str,
                description="The caller's own id for the trigger: parcelLab's correlationId, Marketing "
                "Cloud's requestId, the native `reference` or an Idempotency-Key.",
            ),
            OpenApiParameter("campaign", str, description="a campaign key"),
        ],
    ),
)
class TriggerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    required_scopes = {"list": "read", "retrieve": "read", "cancel": "send"}
    serializer_class = TriggerSerializer
    queryset = Trigger.objects.none()  # what the OpenAPI generator sees; requests get their org's

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        org = self.request.user.org
        queryset = Trigger.objects.filter(org=org).select_related("campaign")
        if self.action != "list":
            return queryset
        params = self.request.query_params
        if "reference" in params:
            try:
                queryset = queryset.filter(reference=_caller_id(params["reference"]))
            except ValueError:
                raise ValidationError({"reference": [_invalid("reference", params["reference"])]}) from None
        if "campaign" in params:
            queryset = queryset.filter(campaign_id=_campaign_id(org, params["campaign"]))
        return queryset.order_by("-id")

    @extend_schema(summary="A trigger's sends counted by status", responses=TriggerProgressSerializer)
    def retrieve(self, request, pk=None):
        trigger = self.get_object()
        counts = trigger_counts(trigger=trigger)
        return Response(
            {
                "id": trigger.pk,
                "campaign": trigger.campaign.key,
                "source": trigger.source,
                "reference": trigger.reference,
                "created_at": trigger.created_at,
                "total": sum(counts.values()),
                "counts": counts,
                "done": all(status in Send.FINAL_STATUSES for status in counts),
            }
        )

    @extend_schema(
        summary="Cancel what has not gone yet of a trigger, or of every trigger with a key or reference",
        request=CancelRequestSerializer,
        responses={200: CancellationSerializer},
    )
    @action(detail=False, methods=["post"])
    def cancel(self, request):
        triggers = self.get_queryset().filter(**_cancel_selector(request.data))
        if "trigger" in request.data and not triggers.exists():
            raise NotFound("No such trigger.", problems=[Problem("trigger", "No trigger with this id.")])
        return Response(vars(triggers_cancel(triggers=triggers, actor=request.user)))


def _cancel_selector(data) -> dict:
    """Which triggers a cancel request names: exactly one of CANCEL_BY, valid."""
    given = [name for name in CANCEL_BY if isinstance(data, dict) and name in data]
    if len(given) != 1:
        raise Invalid(
            "Name what to cancel.",
            problems=[
                Problem(name, "Give exactly one of cancellation_key, trigger and reference.")
                for name in given or CANCEL_BY
            ],
        )
    [name] = given
    value = data[name]
    if name == "trigger":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
            raise Invalid(
                "The trigger is not valid.",
                problems=[Problem("trigger", "Give a trigger's id, a positive integer.")],
            )
        return {"pk": value}
    if not isinstance(value, str) or not 0 < len(value) <= REFERENCE_MAX or name_problem(value):
        raise Invalid(
            f"The {name} is not valid.",
            problems=[Problem(name, f"Give 1 to {REFERENCE_MAX} characters, no line breaks.")],
        )
    return {name: value}
