from django.conf import settings
from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.celery import app


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


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Health of the database and the broker (no authentication)",
        auth=[],
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "database": serializers.CharField(),
                    "broker": serializers.CharField(),
                },
            ),
            503: OpenApiResponse(description="The database or the broker is down; the body says which."),
        },
    )
    def get(self, request):
        checks = {"database": database_ok(), "broker": broker_ok()}
        healthy = all(ok for ok, _ in checks.values())
        body = {"status": "ok" if healthy else "unavailable", **{k: v for k, (_, v) in checks.items()}}
        return Response(body, status=200 if healthy else 503)
