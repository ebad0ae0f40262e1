"""Study links: create, read, their JWT, withdraw, and POST /establish with every refusal."""

import json
import re
from datetime import datetime, timedelta

import pytest
from conftest import USER, json_error, login
from study_helpers import (
    DATA_SERVER,
    JANE,
    LINK_SECRET,
    PATIENT_ID,
    STUDY_CONFIG,
    consented_subject,
    create_subject,
    decode,
    establish,
    link_jwt,
    new_link,
    patient,
)

from idm.models import AuditEvent, Link, db
from idm.users import create_user

LINK_FIELDS = {
    "_id", "sub", "iss", "aud", "exp", "created", "changed",
    "linked_to", "linked_system", "linked_on", "withdrawn_on",
}  # fmt: skip


@pytest.fixture
def app_config():
    return STUDY_CONFIG


@pytest.fixture
def link(client, staff):
    """An open link of a consented subject: its JSON."""
    consented_subject(client, staff)
    return new_link(client, staff)


def link_row(app, jti):
    with app.app_context():
        row = db.session.get(Link, jti)
        return {column: getattr(row, column) for column in ("linked_to", "withdrawn_on", "changed")}


def events(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(AuditEvent))


# --- Creating and reading links ------------------------------------------------


def test_a_consented_subject_gets_a_link(client, staff, fake_clock):
    consented_subject(client, staff)

    link = new_link(client, staff)

    assert set(link) == LINK_FIELDS
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", link["_id"])  # 128 random bits
    assert link["sub"] == "S-0042"
    assert link["iss"] == link["aud"] == "http://localhost/"  # the request's host, in development
    created = datetime.fromisoformat(link["created"])
    assert datetime.fromisoformat(link["exp"]) == created + timedelta(days=1)
    unset = ("linked_to", "linked_system", "linked_on", "withdrawn_on")
    assert [link[name] for name in unset] == [None] * 4
    assert client.get(f"/link/{link['_id']}", headers=staff).json == {"data": link}


def test_links_are_listed_oldest_first(client, staff, fake_clock):
    consented_subject(client, staff)
    assert client.get("/subject/S-0042/links", headers=staff).json == {"data": []}
    first = new_link(client, staff)
    fake_clock.advance(5)
    second = new_link(client, staff)

    listed = client.get("/subject/S-0042/links", headers=staff).json["data"]

    assert [link["_id"] for link in listed] == [first["_id"], second["_id"]]


def test_no_link_before_consent(app, client, staff):
    create_subject(client, staff, date_invited="2026-11-20")
    before = events(app)

    response = client.post("/subject/S-0042/links", headers=staff)

    assert json_error(response, 412) == "subject S-0042 has not consented yet"
    assert client.get("/subject/S-0042/links", headers=staff).json == {"data": []}
    assert events(app) == before


def test_no_link_once_withdrawn(client, staff, link):
    client.put(f"/link/{link['_id']}", json={"withdrawn_on": "2026-11-30"}, headers=staff)

    response = client.post("/subject/S-0042/links", headers=staff)

    assert json_error(response, 409) == "subject S-0042 has withdrawn from the study"
    assert len(client.get("/subject/S-0042/links", headers=staff).json["data"]) == 1


@pytest.mark.parametrize(
    ("settings", "iss", "aud"),
    [
        ({"IDM_PUBLIC_URL": "https://idm.example.org/study"}, None, None),
        (
            {
                "IDM_LINK_ISSUER": "https://iss.example.org/",
                "IDM_LINK_AUDIENCE": "https://a.example/",
            },
            "https://iss.example.org/",
            "https://a.example/",
        ),
    ],
)
def test_the_public_url_or_the_settings_make_iss_and_aud(make_app, settings, iss, aud):
    app = make_app(**STUDY_CONFIG, **settings)
    client = app.test_client()
    with app.app_context():
        create_user(*USER)
    headers = login(client, *USER)
    consented_subject(client, headers)

    link = new_link(client, headers)

    assert link["iss"] == (iss or "https://idm.example.org/study/")
    assert link["aud"] == (aud or "https://idm.example.org/study/")


@pytest.mark.parametrize("jti", ["AAAAAAAAAAAAAAAAAAAAAA", "nope", "a%00b", "x" * 44, "a.b"])
def test_unknown_links_are_a_404(client, staff, link, jti):
    assert json_error(client.get(f"/link/{jti}", headers=staff), 404).startswith("no link ")
    assert client.get(f"/link/{jti}/jwt", headers=staff).status_code == 404
    body = {"withdrawn_on": "2026-11-30"}
    assert client.put(f"/link/{jti}", json=body, headers=staff).status_code == 404


def test_link_routes_need_a_token(client, link):
    jti = link["_id"]
    routes = [("GET", f"/link/{jti}"), ("PUT", f"/link/{jti}"), ("GET", f"/link/{jti}/jwt")]
    for method, path in routes:
        response = client.open(path, method=method, json={"withdrawn_on": "2026-11-30"})
        assert json_error(response, 401).startswith("authentication required"), path


# --- The link's JWT ------------------------------------------------------------


def test_the_jwt_is_bare_and_signed_with_the_link_secret(client, staff, link):
    headers = {**staff, "Accept": "application/jwt"}  # what the frontend sends

    response = client.get(f"/link/{link['_id']}/jwt", headers=headers)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/jwt"
    token = response.get_data(as_text=True)
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", token)
    claims = decode(token)
    assert claims == {
        "jti": link["_id"],
        "iss": link["iss"],
        "aud": link["aud"],
        "exp": int(datetime.fromisoformat(link["exp"]).timestamp()),
        "sub": JANE["name"],
        "birthdate": JANE["bday"],
    }
    # The same token again: nothing per link but its claims is needed.
    assert link_jwt(client, staff, link["_id"]) == token


def test_no_jwt_for_an_established_link(client, staff, link):
    establish(client, link_jwt(client, staff, link["_id"]))

    response = client.get(f"/link/{link['_id']}/jwt", headers=staff)

    assert json_error(response, 410) == "link is established already"


def test_no_jwt_for_a_withdrawn_link_or_subject(client, staff, link):
    other = new_link(client, staff)
    client.put(f"/link/{link['_id']}", json={"withdrawn_on": "2026-11-30"}, headers=staff)

    withdrawn = client.get(f"/link/{link['_id']}/jwt", headers=staff)
    sibling = client.get(f"/link/{other['_id']}/jwt", headers=staff)

    assert json_error(withdrawn, 410) == "link was withdrawn"
    assert json_error(sibling, 410) == "subject has withdrawn from the study"


def test_no_jwt_for_an_expired_link(client, link, fake_clock):
    fake_clock.advance(24 * 3600)
    staff = login(client, *USER)  # a fresh access token a day later

    assert json_error(client.get(f"/link/{link['_id']}/jwt", headers=staff), 410) == (
        "link has expired"
    )


# --- Withdrawing ---------------------------------------------------------------


def test_withdrawing_through_a_link(app, client, staff, link, fake_clock):
    fake_clock.advance(60)
    body = {"withdrawn_on": "2026-11-30T10:00:00+01:00"}

    response = client.put(f"/link/{link['_id']}", json=body, headers=staff)

    assert response.status_code == 200
    assert response.json["data"]["withdrawn_on"] == "2026-11-30T09:00:00+00:00"
    assert response.json["data"]["changed"] > link["changed"]
    subject = client.get("/subject/S-0042", headers=staff).json["data"]
    assert subject["date_withdrawn"] == "2026-11-30T09:00:00+00:00"
    assert subject["changed"] == response.json["data"]["changed"]
    statuses = client.get("/subject?status=withdrawn", headers=staff).json
    assert [row["sssid"] for row in statuses["data"]] == ["S-0042"]


def test_sending_back_the_link_as_read_is_fine(client, staff, link):
    body = {**link, "withdrawn_on": "2026-11-30", "exp": link["exp"].replace("+00:00", "Z")}

    assert client.put(f"/link/{link['_id']}", json=body, headers=staff).status_code == 200


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"linked_to": "someone"}, "linked_to cannot be changed"),
        ({"sub": "S-0043"}, "sub cannot be changed"),
        ({"aud": "https://evil.example/"}, "aud cannot be changed"),
        ({"exp": "2099-01-01T00:00:00+00:00"}, "exp cannot be changed"),
        ({"exp": "tomorrow"}, "exp cannot be changed"),
        ({"_id": "other"}, "_id cannot be changed"),
    ],
)
def test_other_fields_cannot_change(app, client, staff, link, change, message):
    before = events(app)
    body = {"withdrawn_on": "2026-11-30", **change}

    assert json_error(client.put(f"/link/{link['_id']}", json=body, headers=staff), 409) == message
    assert link_row(app, link["_id"])["withdrawn_on"] is None
    assert events(app) == before


def test_withdrawing_twice_is_a_409(client, staff, link):
    body = {"withdrawn_on": "2026-11-30"}
    client.put(f"/link/{link['_id']}", json=body, headers=staff)

    response = client.put(f"/link/{link['_id']}", json=body, headers=staff)

    assert json_error(response, 409) == "link was already withdrawn"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "withdrawn_on is required"),
        ({"withdrawn_on": None}, "withdrawn_on is required"),
        ({"withdrawn_on": "soon"}, "withdrawn_on must be a timestamp"),
        ({"withdrawn_on": 1764500000}, "withdrawn_on must be a string"),
        ({"withdrawn_on": "2026-11-30", "reason": "moved"}, "unknown field: reason"),
    ],
)
def test_bad_withdrawals_are_a_400(app, client, staff, link, body, message):
    assert message in json_error(client.put(f"/link/{link['_id']}", json=body, headers=staff), 400)
    assert link_row(app, link["_id"])["withdrawn_on"] is None


# --- POST /establish ------------------------------------------------------------


def test_the_app_establishes_a_link_once(app, client, staff, link):
    token = link_jwt(client, staff, link["_id"])

    response = establish(client, token)

    assert response.status_code == 204 and response.data == b""
    read = client.get(f"/link/{link['_id']}", headers=staff).json["data"]
    assert (read["linked_to"], read["linked_system"]) == (PATIENT_ID, DATA_SERVER)
    assert read["linked_on"] is not None
    subject = client.get("/subject/S-0042", headers=staff).json["data"]
    assert subject["date_enrolled"] == read["linked_on"]
    again = establish(client, token, patient(value="another"))
    assert json_error(again, 409) == "this link has already been established"
    assert link_row(app, link["_id"])["linked_to"] == PATIENT_ID


def test_the_jwt_scheme_and_fhir_json_work_and_system_is_optional(client, staff, link):
    token = link_jwt(client, staff, link["_id"])
    body = {"resourceType": "Patient", "identifier": [{"value": PATIENT_ID}], "gender": "female"}

    response = client.post(
        "/establish",
        data=json.dumps(body),
        headers={"Authorization": f"JWT {token}", "Content-Type": "application/fhir+json"},
    )

    assert response.status_code == 204
    assert client.get(f"/link/{link['_id']}", headers=staff).json["data"]["linked_system"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Observation", "identifier": [{"value": "x"}]},
        {"identifier": [{"value": "x"}]},
        {"resourceType": "Patient"},
        {"resourceType": "Patient", "identifier": []},
        {"resourceType": "Patient", "identifier": {"value": "x"}},
        {"resourceType": "Patient", "identifier": ["x"]},
        {"resourceType": "Patient", "identifier": [{"system": DATA_SERVER}]},
        {"resourceType": "Patient", "identifier": [{"value": ""}]},
        {"resourceType": "Patient", "identifier": [{"value": 42}]},
        {"resourceType": "Patient", "identifier": [{"value": "x", "system": 1}]},
        {"resourceType": "Patient", "identifier": [{"value": "x" * 256}]},
        {"resourceType": "Patient", "identifier": [{"value": "a\x00b"}]},
        ["Patient"],
    ],
)
def test_a_body_that_is_no_patient_is_a_406(app, client, staff, link, body):
    token = link_jwt(client, staff, link["_id"])

    message = json_error(establish(client, token, body), 406)

    assert "Patient" in message
    assert link_row(app, link["_id"])["linked_to"] is None


@pytest.mark.parametrize(
    ("identifier", "message"),
    [
        ({"value": "x" * 256}, "identifier[0].value must be at most 255 characters"),
        ({"value": "x", "system": "s" * 501}, "identifier[0].system must be at most 500 chara"),
        ({"value": "a\x00b"}, "identifier[0].value must not contain NUL characters"),
        ({"value": "x", "system": "\ud800"}, "identifier[0].system must be valid Unicode text"),
    ],
)
def test_a_406_says_what_is_wrong_with_the_identifier(client, staff, link, identifier, message):
    """Found by the fuzzer: a NUL was once refused as "text of at most 255 characters"."""
    token = link_jwt(client, staff, link["_id"])
    body = {"resourceType": "Patient", "identifier": [identifier]}

    assert json_error(establish(client, token, body), 406).startswith(f"the Patient's {message}")


def test_a_body_that_is_not_json_is_a_406(client, staff, link):
    token = link_jwt(client, staff, link["_id"])
    headers = {"Authorization": f"Bearer {token}"}

    for data, kind in [("Patient", "text/plain"), ("{", "application/json")]:
        response = client.post("/establish", data=data, headers={**headers, "Content-Type": kind})
        assert json_error(response, 406).startswith("the body must be a FHIR Patient")


def test_an_expired_link_is_a_403(app, client, staff, link, fake_clock):
    token = link_jwt(client, staff, link["_id"])
    fake_clock.advance(24 * 3600)

    assert json_error(establish(client, token), 403) == "link has expired"
    assert link_row(app, link["_id"])["linked_to"] is None


def test_a_withdrawn_link_or_subject_is_a_403(app, client, staff, link):
    token = link_jwt(client, staff, link["_id"])
    other = new_link(client, staff)
    other_token = link_jwt(client, staff, other["_id"])
    client.put(f"/link/{link['_id']}", json={"withdrawn_on": "2026-11-30"}, headers=staff)

    assert json_error(establish(client, token), 403) == "link was withdrawn"
    assert json_error(establish(client, other_token), 403) == "subject has withdrawn from the study"
    assert link_row(app, other["_id"])["linked_to"] is None


def test_a_refusal_writes_no_event(app, client, staff, link, fake_clock):
    token = link_jwt(client, staff, link["_id"])
    before = events(app)
    fake_clock.advance(24 * 3600)

    establish(client, token)
    establish(client, "not.a.token")
    establish(client, token, {"resourceType": "Patient"})

    assert events(app) == before


def test_establish_needs_a_token_and_says_how(client, link):
    response = establish(client, None)

    assert json_error(response, 401) == "send the link JWT: Authorization: Bearer <link JWT>"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idm"'
    basic = {"Authorization": "Basic eDp5"}  # not a bearer token: none sent
    assert client.post("/establish", json=patient(), headers=basic).status_code == 401


def test_the_link_secret_is_no_setting_of_secret_key(app, client, staff, link):
    """Only LINK_SECRET verifies: this app's SECRET_KEY is another key."""
    assert app.config["IDM_LINK_SECRET"] == LINK_SECRET != app.config["SECRET_KEY"]
    claims = decode(link_jwt(client, staff, link["_id"]))
    assert claims["sub"] == JANE["name"]
