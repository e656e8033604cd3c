"""The API's answers at its edges: unrouted URLs, bad pagination, other media types."""

import pytest

pytestmark = pytest.mark.django_db


def test_an_unrouted_api_url_is_a_json_404(api):
    response = api.get("/api/v1/campaigns/%C2%84/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("query", ["offset=null", "limit=-5", "limit=0", "offset=1&offset=2", "limit=1e3"])
def test_bad_pagination_is_a_400_naming_the_parameter(api, query):
    response = api.get(f"/api/v1/sends/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] in ("limit", "offset")


def test_pagination_within_bounds_works(api):
    assert api.get("/api/v1/sends/?limit=5&offset=0").status_code == 200


def test_a_form_encoded_body_is_415(api):
    response = api.post("/api/v1/mailings/", {"name": "x"}, format="multipart")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_an_out_of_range_id_filter_is_a_400(api):
    response = api.get("/api/v1/sends/?recipient=54677097265190567936")
    assert response.status_code == 400
    assert response.json()["error"]["problems"][0]["field"] == "recipient"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/campaigns/", {"key": "k", "name": 0}, "name"),
        ("/api/v1/campaigns/", {"key": "k", "name": "K", "delay_seconds": "5"}, "delay_seconds"),
        (
            "/api/v1/campaigns/",
            {"key": "k", "name": "K", "transactional_critical": 1},
            "transactional_critical",
        ),
        ("/api/v1/mailings/", {"name": "M", "subject": 453}, "subject"),
        ("/api/v1/recipients/", {"email": 5}, "email"),
    ],
)
def test_values_of_the_wrong_json_type_are_refused_not_coerced(api, path, body, field):
    response = api.post(path, body, format="json")
    assert response.status_code == 400
    assert field in {p["field"] for p in response.json()["error"]["problems"]}


@pytest.mark.parametrize(
    "url",
    ["/api/v1/recipients/?external_id=a%00b", "/api/v1/sends/?status=sent%00", "/api/v1/audit/?action=%00"],
)
def test_a_nul_character_in_a_query_parameter_is_a_400_naming_it(api, url):
    response = api.get(url)
    assert response.status_code == 400
    assert (
        response.json()["error"]["problems"][0]["message"]
        == "Query parameters cannot contain NUL characters."
    )


def test_a_nul_character_in_an_admin_search_is_a_400(admin_client):
    assert admin_client.get("/admin/recipients/recipient/?q=a%00b").status_code == 400
