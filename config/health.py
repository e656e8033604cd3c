from django.conf import settings
from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.celery import app
from dispatch.progress import dispatch_state


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # health reports every failure, it does not raise
        return False, f"{type(exc).__name__}: {exc}"


def broker_ok() -> tuple[bool, str]:
    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True, "ok"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


class DispatchHealth(serializers.Serializer):
    due = serializers.IntegerField(help_text="Sends queued, scheduled and due, or claimed by a worker")
    oldest_due_seconds = serializers.FloatField(allow_null=True, help_text="Age of the oldest of them")
    last_progress_seconds = serializers.FloatField(
        allow_null=True, help_text="Since a worker last finished a chunk (null: none has yet)"
    )
    stalled = serializers.BooleanField(
        help_text="Sends have been due longer than the lease and no worker finished a chunk in that time"
    )
    reason = serializers.CharField(help_text="Why it is stalled; empty when it is not")


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Health of the database, the broker and dispatch (no authentication)",
        auth=[],
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "database": serializers.CharField(),
                    "broker": serializers.CharField(),
                    "dispatch": DispatchHealth(),
                },
            ),
            503: OpenApiResponse(
                description="The database or the broker is down, or dispatch is stalled; the body says which."
            ),
        },
    )
    def get(self, request):
        checks = {"database": database_ok(), "broker": broker_ok()}
        healthy = all(ok for ok, _ in checks.values())
        body = {"status": "ok" if healthy else "unavailable", **{k: v for k, (_, v) in checks.items()}}
        if checks["database"][0]:
            dispatch = dispatch_state()
            body["dispatch"] = dispatch.as_dict()
            if dispatch.stalled:
                healthy = False
                body["status"] = "stalled"
        return Response(body, status=200 if healthy else 503)
