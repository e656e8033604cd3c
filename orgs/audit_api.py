"""/api/v1/audit/: the org's audit log, newest first. Read with the `manage` scope: it names the org's staff
and tokens, which a token that only reads the send log (a support widget, a dashboard) has no need to know."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError

from orgs.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    actor_type = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "actor_type", "action", "object_type", "object_id", "summary"]
        read_only_fields = fields

    def get_actor_type(self, entry: AuditEntry) -> str:
        """`user` (the admin), `token` (the API) or `herald` (a command or task)."""
        return "user" if entry.user_id else "token" if entry.token_id else "herald"


@extend_schema_view(
    list=extend_schema(
        summary="The audit log: staff actions that matter, newest first",
        parameters=[
            OpenApiParameter("action", str, enum=AuditEntry.Action.values),
            OpenApiParameter("object_type", str, description="e.g. mailings.mailing"),
            OpenApiParameter("object_id", str),
        ],
    ),
    retrieve=extend_schema(summary="One audit log entry"),
)
class AuditEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AuditEntrySerializer
    required_scope = "manage"
    queryset = AuditEntry.objects.none()  # what the OpenAPI generator sees; requests get their org's

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        queryset = AuditEntry.objects.filter(org=self.request.user.org)
        params = self.request.query_params
        action = params.get("action")
        if action is not None and action not in AuditEntry.Action.values:
            known = ", ".join(AuditEntry.Action.values)
            raise ValidationError({"action": [f"'{action}' is not one of {known}."]})
        for name in ("action", "object_type", "object_id"):
            if name in params:
                if "\x00" in params[name]:  # PostgreSQL refuses it in a query: say so rather than fail
                    raise ValidationError({name: ["A NUL character is not allowed."]})
                queryset = queryset.filter(**{name: params[name]})
        return queryset.order_by("-at", "-id")
