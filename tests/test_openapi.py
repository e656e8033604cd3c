import re

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema() -> dict:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_covers_the_native_api(schema):
    paths = set(schema["paths"])
    assert {
        "/api/v1/health/",
        "/api/v1/mailings/",
        "/api/v1/mailings/{id}/",
        "/api/v1/campaigns/",
        "/api/v1/campaigns/{key}/",
        "/api/v1/campaigns/{key}/trigger/",
        "/api/v1/triggers/{id}/",
        "/api/v1/sends/",
        "/api/v1/sends/{id}/",
        "/api/v1/sends/{id}/retrigger/",
        "/api/v1/recipients/",
        "/api/v1/recipients/{id}/",
    } <= paths


def test_every_operation_documents_the_error_envelope(schema):
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert responses["400"]["content"]["application/json"]["schema"] == error, (method, path)
            if path.startswith("/api/v1/") and path != "/api/v1/health/":
                assert responses["401"]["content"]["application/json"]["schema"] == error, (method, path)
                assert responses["404"]["content"]["application/json"]["schema"] == error, (method, path)
                assert operation["security"] == [{"ApiToken": []}], (method, path)


def test_the_trigger_request_is_the_json_schema_the_api_validates_with(schema):
    operation = schema["paths"]["/api/v1/campaigns/{key}/trigger/"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["recipients"]
    assert body["properties"]["recipients"]["maxItems"] == 1000
    assert "202" in operation["responses"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"])


def test_the_interactive_docs_load_their_assets_from_herald_itself(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, "the page loads Swagger UI"
    assert all(not s.startswith(("http://", "https://", "//")) for s in sources), sources
