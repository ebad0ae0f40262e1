"""GET /openapi.json: a valid OpenAPI 3.1 document of exactly the app's JSON routes.

tests/openapi_check.py holds every answer of the suite to it; the last tests
here show that a wrong status or body would fail the test that received it.
"""

import re

import pytest
from openapi_check import check
from openapi_spec_validator import validate

from idm.blueprints import ApiBlueprint


def json_routes(app):
    """{(METHOD, "/path/{name}")} of every route an ApiBlueprint serves."""
    routes = set()
    for rule in app.url_map.iter_rules():
        blueprint = app.blueprints.get(rule.endpoint.rpartition(".")[0])
        if isinstance(blueprint, ApiBlueprint):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routes |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def described_routes(document):
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }


def test_the_document_is_valid_openapi_3_1(client):
    response = client.get("/openapi.json")

    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_json_route_is_described_and_nothing_else(app, client):
    described = described_routes(client.get("/openapi.json").json)

    assert sorted(json_routes(app) - described) == [], "routes missing from idm/openapi.yaml"
    assert sorted(described - json_routes(app)) == [], "described routes the app does not serve"


def test_values_of_the_code_and_settings_are_filled_in(make_app):
    from idm import audit

    document = make_app(IDM_USERS_MAX_PER_PAGE=7).test_client().get("/openapi.json").json

    inline = [p for p in document["paths"]["/users"]["get"]["parameters"] if "name" in p]
    parameters = {p["name"]: p for p in inline}
    assert parameters["perpage"]["schema"]["maximum"] == 7
    assert document["components"]["schemas"]["AuditAction"]["enum"] == sorted(audit.ACTIONS)
    assert document["components"]["schemas"]["AuditOutcome"]["enum"] == sorted(audit.OUTCOMES)
    assert document["servers"] == [{"url": "http://localhost"}]


def test_the_security_schemes_are_described(client):
    schemes = client.get("/openapi.json").json["components"]["securitySchemes"]

    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["jwt"]["in"] == "header" and schemes["jwt"]["name"] == "Authorization"
    assert schemes["basic"]["scheme"] == "basic"


def test_an_undescribed_status_fails_the_test_that_got_it():
    with pytest.raises(AssertionError, match="GET /user/me -> 418: status not in the description"):
        check("GET", "/user/me", 418, "application/json", b'{"error": {}}')


def test_a_body_that_differs_from_the_schema_fails():
    body = b'{"data": {"id": "x", "username": "a@example.org", "admin": "yes"}}'
    with pytest.raises(AssertionError, match="does not match the description"):
        check("GET", "/user/me", 200, "application/json", body)


def test_a_body_on_a_204_fails():
    with pytest.raises(AssertionError, match="promises no body"):
        check("POST", "/auth/logout", 204, "application/json", b"{}")


def test_an_unrouted_path_must_still_answer_the_error_shape():
    check("GET", "/nope", 404, "application/json", b'{"error": {"status": 404, "message": "x"}}')
    with pytest.raises(AssertionError):
        check("GET", "/nope", 404, "application/json", b'{"detail": "not found"}')
