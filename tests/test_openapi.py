"""GET /openapi.json: a valid OpenAPI 3.1 document of exactly the app's JSON routes.

tests/openapi_check.py holds every answer of the suite to it; the last tests
here show that a wrong status or body would fail the test that received it.
"""

import re

import pytest
from openapi_check import check, description, pointer_part
from openapi_check import validate as validate_against
from openapi_spec_validator import validate
from werkzeug.exceptions import BadRequest, NotAcceptable

from idm.blueprints import ApiBlueprint
from idm.study import fields
from idm.study.establish import patient_identifier


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

    app = make_app(IDM_USERS_MAX_PER_PAGE=7, IDM_PASSWORD_MIN_LENGTH=12)
    document = app.test_client().get("/openapi.json").json

    inline = [p for p in document["paths"]["/users"]["get"]["parameters"] if "name" in p]
    parameters = {p["name"]: p for p in inline}
    assert parameters["perpage"]["schema"]["maximum"] == 7
    assert document["components"]["schemas"]["AuditAction"]["enum"] == sorted(audit.ACTIONS)
    assert document["components"]["schemas"]["AuditOutcome"]["enum"] == sorted(audit.OUTCOMES)
    assert document["servers"] == [{"url": "http://localhost"}]
    password = document["components"]["schemas"]["NewPassword"]
    assert (password["minLength"], password["maxLength"]) == (12, 256)


def test_every_operation_lists_what_any_route_may_answer(client):
    document = client.get("/openapi.json").json

    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                assert "414" in operation["responses"], f"{method.upper()} {path}"


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


def request_bodies(document):
    """(pointer, schema, required) of the object schema of each JSON request body,
    through ``$ref`` and ``allOf``: every body a client writes, shared or inline."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                pointer = f"/paths/{pointer_part(path)}/{method}/requestBody/content/"
                yield from object_schemas(
                    document,
                    pointer + "application~1json/schema",
                    content["application/json"]["schema"],
                )


def object_schemas(document, pointer, schema, required=()):
    if "$ref" in schema:
        pointer = schema["$ref"].removeprefix("#")
        schema = document["components"]["schemas"][pointer.rpartition("/")[2]]
    parts = schema.get("allOf", [])
    required = {*required, *schema.get("required", [])}
    required |= {name for part in parts for name in part.get("required", [])}
    for index, part in enumerate(parts):
        yield from object_schemas(document, f"{pointer}/allOf/{index}", part, required)
    if "properties" in schema:
        yield pointer, schema, required


def test_request_bodies_are_found_through_refs_and_allof():
    found = [(pointer, required) for pointer, _, required in request_bodies(description())]

    assert ("/components/schemas/IntrospectionRequest", {"token"}) in found
    assert ("/components/schemas/SubjectFields", {"sssid", "name", "bday"}) in found  # POST
    assert ("/components/schemas/SubjectFields", set()) in found  # PUT


def test_optional_fields_may_be_null_as_the_api_takes_them():
    """A field sent as null counts as not sent (docs/api.md): the description says so too,
    or a client that sends null where it has nothing is told it breaks the contract."""
    for pointer, schema, required in request_bodies(description()):
        for name in set(schema["properties"]) - required:
            validate_against(None, f"{pointer}/properties/{name}", f"{pointer} {name}")


def query_parameters_of(document, operation):
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rpartition("/")[2]]
        if parameter["in"] == "query":
            yield parameter


def test_empty_query_values_are_described_as_the_api_takes_them(client, admin_headers):
    """`?perpage=` means the default, `?action=` any action (docs/api.md): where a list
    takes an empty value the description says so (allowEmptyValue), and nowhere else."""
    document = client.get("/openapi.json").json
    wrong = []
    for path, item in document["paths"].items():
        if "get" not in item or "{" in path:
            continue
        for parameter in query_parameters_of(document, item["get"]):
            response = client.get(f"{path}?{parameter['name']}=", headers=admin_headers)

            taken = response.status_code == 200
            if parameter.get("allowEmptyValue", False) != taken:
                wrong.append(f"{path}?{parameter['name']}= answers {response.status_code}")
    assert not wrong, "\n".join(wrong)


def described(value, schema_name):
    try:
        validate_against(value, f"/components/schemas/{schema_name}", schema_name)
    except AssertionError:
        return False
    return True


def taken(parse, value):
    try:
        parse(value)
    except BadRequest:
        return False
    return True


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-24",
        "1900-01-01",
        "2026-11-24T17:40:00+01:00",
        "2026-11-24T17:40Z",
        "2026-11-24 17:40:00.123456-0530",
        "2026-11-24T17:40:00",  # no offset
        "2026-13-01",
        "2026-11-24T24:00Z",
        "1899-12-31",
        "26-11-24",
        "yesterday",
    ],
)
def test_timestamps_are_described_as_the_service_takes_them(app, value):
    """A date the description admits is one the service takes: else a client (or the
    fuzzer) generating from the description never reaches a consent or a withdrawal."""
    with app.app_context():
        accepted = taken(lambda v: fields.timestamp("date_consented", v), value)

    assert described(value, "TimestampInput") == accepted


@pytest.mark.parametrize(
    "value", ["1900-01-01", "1980-02-29", "2019-11-30", "1899-12-31", "1980-13-01", "80-01-01"]
)
def test_birthdays_are_described_as_the_service_takes_them(app, value):
    with app.app_context():
        accepted = taken(fields.bday, value)

    assert described({"bday": value}, "SubjectFields") == accepted


def test_a_patient_without_a_first_identifier_value_is_not_described():
    """POST /establish reads the first identifier's value; without one it is a 406."""
    assert described({"resourceType": "Patient", "identifier": [{"value": "p-1"}]}, "Patient")
    assert described(
        {"resourceType": "Patient", "identifier": [{"value": "p-1"}, {"system": "s"}]}, "Patient"
    )
    assert not described({"resourceType": "Patient", "identifier": [{"system": "s"}]}, "Patient")


@pytest.mark.parametrize("value", [" ", "\t\n", "\u3000", "\x1c", "\x85 ", " x ", "\ufeff", "x"])
def test_identifier_values_are_described_as_the_service_takes_them(value):
    """Found by the fuzzer: a value of white space alone is a 406 the description hid."""
    patient = {"resourceType": "Patient", "identifier": [{"value": value}]}
    try:
        patient_identifier(patient)
        accepted = True
    except NotAcceptable:
        accepted = False

    assert described(patient, "Patient") == accepted
