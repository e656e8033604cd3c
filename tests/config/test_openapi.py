import json
import re

import jsonschema
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


def test_every_native_operation_documents_the_error_envelope(schema):
    error = {"$ref": "#/components/schemas/Error"}
    native = {path: ops for path, ops in schema["paths"].items() if path.startswith("/api/v1/")}
    assert len(native) > 10
    for path, operations in native.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert responses["400"]["content"]["application/json"]["schema"] == error, (method, path)
            if path != "/api/v1/health/":
                assert responses["401"]["content"]["application/json"]["schema"] == error, (method, path)
                assert responses["404"]["content"]["application/json"]["schema"] == error, (method, path)
                assert operation["security"] == [{"ApiToken": []}], (method, path)


MESSAGE_CENTRAL = ("Message Central", "MessageCentralError", [{"ApiToken": []}, {"ApiTokenBasic": []}])
TRIGGER_LAUNCH = ("Trigger launch", "TriggerLaunchError", None)
PARCELLAB = ("parcelLab", "ParcelLabError", [{"ParcelLabUser": [], "ParcelLabToken": []}])
MARKETING_CLOUD = ("Marketing Cloud", "MarketingCloudError", [{"MarketingCloudToken": ["send"]}])
TRIGGER_ERRORS = {"400", "401", "403", "404", "405", "409", "413", "429", "500"}
# Each dialect operation: its vendor, and the statuses it answers (docs/dialects.md), each in its own shape.
DIALECT_OPERATIONS = {
    ("put", "/v1.0/mailing/trigger"): (MESSAGE_CENTRAL, "200", TRIGGER_ERRORS),
    ("post", "/v1.0/mailing/trigger"): (MESSAGE_CENTRAL, "200", TRIGGER_ERRORS),
    ("put", "/v3.7/mailing/trigger"): (MESSAGE_CENTRAL, "200", TRIGGER_ERRORS),
    ("post", "/v3.7/mailing/trigger"): (MESSAGE_CENTRAL, "200", TRIGGER_ERRORS),
    ("post", "/api/v1.1/campaigns/triggers/start/"): (TRIGGER_LAUNCH, "200", TRIGGER_ERRORS),
    ("get", "/trg/{link_id}/{who}"): (TRIGGER_LAUNCH, "200", {"400", "404", "405", "409", "429", "500"}),
    ("post", "/trg/{link_id}/{who}"): (
        TRIGGER_LAUNCH,
        "200",
        {"400", "404", "405", "409", "413", "429", "500"},
    ),
    ("post", "/v2/trigger-message"): (PARCELLAB, "202", {"400", "403", "405", "413", "429", "500"}),
    ("post", "/v2/trigger"): (PARCELLAB, "202", {"400", "403", "405", "413", "429", "500"}),
    ("put", "/v2/re-trigger-message"): (PARCELLAB, "202", {"400", "401", "404", "405", "413", "429", "500"}),
    ("post", "/v2/token"): (
        ("Marketing Cloud", "MarketingCloudOAuthError", None),
        "200",
        {"400", "401", "405", "413", "429", "500"},
    ),
    ("post", "/messaging/v1/messageDefinitionSends/{definition}/send"): (
        MARKETING_CLOUD,
        "202",
        TRIGGER_ERRORS,
    ),
    ("get", "/messaging/v1/messageDefinitionSends/{definition}/deliveryRecords/{recipient_send_id}"): (
        (
            "Marketing Cloud",
            "MarketingCloudError",
            [{"MarketingCloudToken": ["read"]}, {"MarketingCloudToken": ["send"]}],
        ),
        "200",
        {"401", "403", "404", "405", "429", "500"},
    ),
}


def dialect_operations(schema: dict) -> dict:
    return {
        (method, path): operation
        for path, operations in schema["paths"].items()
        if not path.startswith(("/api/v1/", "/api/schema/"))
        for method, operation in operations.items()
    }


def test_every_dialect_operation_has_its_vendors_tag_and_documents_each_error_in_its_vendors_shape(schema):
    operations = dialect_operations(schema)
    assert set(operations) == set(DIALECT_OPERATIONS)
    for key, operation in operations.items():
        (tag, error, security), success, errors = DIALECT_OPERATIONS[key]
        assert operation["tags"] == [tag], key
        assert operation.get("security") == security, key
        responses = operation["responses"]
        assert set(responses) == {success, *errors}, key
        assert "$ref" in json.dumps(responses[success]["content"]["application/json"]["schema"]), key
        for status in errors:
            documented = responses[status]["content"]["application/json"]["schema"]
            assert documented == {"$ref": f"#/components/schemas/{error}"}, (key, status)
        assert "Retry-After" in responses["429"]["headers"], key


def test_the_vendor_error_shapes_are_not_the_native_envelope(schema):
    components = schema["components"]["schemas"]
    for name in ("MessageCentralError", "TriggerLaunchError", "ParcelLabError", "MarketingCloudError"):
        assert components[name]["properties"].get("error", {}).get("type") != "object", name
    assert components["MessageCentralError"]["required"] == ["message", "errors"]
    assert components["TriggerLaunchError"]["required"] == ["data", "error", "error_text"]
    assert components["ParcelLabError"]["required"] == ["success", "message"]
    assert components["MarketingCloudError"]["required"] == ["message", "errorcode", "documentation"]


def test_each_dialect_authenticates_as_its_vendor_does(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiTokenBasic"] == {**schemes["ApiTokenBasic"], "type": "http", "scheme": "basic"}
    assert (schemes["ParcelLabUser"]["in"], schemes["ParcelLabUser"]["name"]) == ("header", "user")
    assert (schemes["ParcelLabToken"]["in"], schemes["ParcelLabToken"]["name"]) == ("header", "token")
    flow = schemes["MarketingCloudToken"]["flows"]["clientCredentials"]
    assert (schemes["MarketingCloudToken"]["type"], flow["tokenUrl"]) == ("oauth2", "/v2/token")
    start = schema["paths"]["/api/v1.1/campaigns/triggers/start/"]["post"]
    assert start["requestBody"]["content"]["application/json"]["schema"]["required"] == ["token", "id"]


def test_the_dialects_documented_examples_are_requests_their_schemas_take(schema):
    examples = 0
    for key, operation in dialect_operations(schema).items():
        for content in operation.get("requestBody", {}).get("content", {}).values():
            validator = jsonschema.Draft202012Validator(content["schema"])
            for name, example in content.get("examples", {}).items():
                assert not list(validator.iter_errors(example["value"])), (key, name)
                examples += 1
    assert examples >= 10


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
