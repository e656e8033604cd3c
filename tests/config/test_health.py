import pytest
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_health_reports_database_and_broker_without_auth():
    response = APIClient().get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "dispatch": {"due": 0, "oldest_due_seconds": None, "last_progress_seconds": None,
                     "stalled": False, "reason": ""},
    }  # fmt: skip


@pytest.mark.django_db
def test_health_is_503_when_the_broker_is_down(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = APIClient().get("/api/v1/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"] != "ok"
