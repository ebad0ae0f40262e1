"""Study subjects through the JSON API: create, read, change, and what is refused.

Every test runs on SQLite and PostgreSQL (the ``database_uri`` fixture).
"""

import pytest
from conftest import USER, json_error
from study_helpers import JANE, STUDY_CONFIG, create_subject

from idm.models import AuditEvent, Subject, db


@pytest.fixture
def app_config():
    return STUDY_CONFIG


SUBJECT_FIELDS = {
    "sssid", "name", "bday", "email", "date_invited", "date_consented",
    "date_enrolled", "date_withdrawn", "created", "changed",
}  # fmt: skip


def subject_rows(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Subject))


def audit_rows(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(AuditEvent))


def test_staff_create_a_subject_and_read_it(client, staff):
    response = client.post("/subject", json=JANE, headers=staff)

    assert response.status_code == 201
    assert response.headers["Location"] == "/subject/S-0042"
    subject = response.json["data"]
    assert set(subject) == SUBJECT_FIELDS
    assert subject["sssid"] == "S-0042" and subject["name"] == "Jane Roe"
    assert subject["bday"] == "1980-05-01" and subject["email"] == "jane@example.org"
    assert subject["date_invited"] is subject["date_consented"] is None
    assert subject["date_enrolled"] is subject["date_withdrawn"] is None
    assert subject["created"].endswith("+00:00") and subject["changed"] == subject["created"]
    assert client.get("/subject/S-0042", headers=staff).json == {"data": subject}


def test_every_route_needs_a_token(client, staff):
    create_subject(client, staff)
    for method, path in [
        ("GET", "/subject"),
        ("POST", "/subject"),
        ("GET", "/subject/S-0042"),
        ("PUT", "/subject/S-0042"),
        ("GET", "/subject/S-0042/links"),
        ("POST", "/subject/S-0042/links"),
        ("GET", "/subject/S-0042/audits"),
    ]:
        response = client.open(path, method=method, json={})
        assert json_error(response, 401).startswith("authentication required"), path
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="idm"'


def test_the_jwt_scheme_of_the_frontend_works(client, user):
    token = client.post("/auth", json={"username": USER[0], "password": USER[1]}).json
    headers = {"Authorization": "JWT " + token["access_token"]}

    assert client.post("/subject", json=JANE, headers=headers).status_code == 201


def test_an_empty_email_as_forms_send_it_means_none(client, staff):
    subject = create_subject(client, staff, email="")

    assert subject["email"] is None


def test_dates_come_in_any_offset_and_go_out_in_utc(client, staff):
    subject = create_subject(
        client, staff, date_invited="2026-11-20", date_consented="2026-11-24T17:40:00.250+01:00"
    )

    assert subject["date_invited"] == "2026-11-20T00:00:00+00:00"
    assert subject["date_consented"] == "2026-11-24T16:40:00+00:00"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sssid": None}, "sssid is required"),
        ({"name": None}, "name is required"),
        ({"bday": None}, "bday is required"),
        ({"sssid": ""}, "sssid must be 1 to 64 of A-Z a-z 0-9 . _ -"),
        ({"sssid": "-S1"}, "starting with a letter or digit"),
        ({"sssid": "S 1"}, "sssid must be 1 to 64"),
        ({"sssid": "S" * 65}, "sssid must be 1 to 64"),
        ({"sssid": "S/1"}, "sssid must be 1 to 64"),
        ({"sssid": 42}, "sssid must be a string"),
        ({"name": "   "}, "name must not be empty"),
        ({"name": "x" * 201}, "name must be at most 200 characters"),
        ({"name": "Jane\x00Roe"}, "name must not contain NUL characters"),
        ({"name": "\ud800"}, "name must be valid Unicode text"),
        ({"bday": "01.05.1980"}, "bday must be a date written YYYY-MM-DD"),
        ({"bday": "1980-02-30"}, "bday 1980-02-30 is not a date of the calendar"),
        ({"bday": "1899-12-31"}, "bday must be between 1900-01-01 and today"),
        ({"bday": "2999-01-01"}, "bday must be between 1900-01-01 and today"),
        ({"bday": 1980}, "bday must be a string"),
        ({"email": "jane"}, "email must be an email address"),
        ({"email": "Jane <jane@example.org>"}, "email must be an email address"),
        ({"email": "j" * 250 + "@example.org"}, "email must be at most 254 characters"),
        ({"date_consented": "2026-11-24T17:40:00"}, "date_consented must be a timestamp with an"),
        ({"date_consented": "yesterday"}, "date_consented must be a timestamp"),
        ({"date_consented": "2026-13-01"}, "date_consented 2026-13-01 is not a date"),
        ({"date_invited": "2026-11-24T25:00:00Z"}, "date_invited 2026-11-24T25:00:00Z is not"),
        ({"date_invited": "0001-01-01T00:00:00+14:00"}, "is not a moment of the calendar"),
        ({"date_invited": "1899-12-31"}, "date_invited must be between the years 1900 and 9998"),
        ({"date_invited": 1700000000}, "date_invited must be a string"),
        ({"date_enrolled": "2026-11-24"}, "date_enrolled is derived by the service"),
        ({"date_withdrawn": None}, "date_withdrawn is derived by the service"),
        ({"created": "2026-11-24"}, "created is derived by the service"),
        ({"changed": "2026-11-24"}, "changed is derived by the service"),
        ({"status": "enrolled"}, "status is derived by the service"),
        ({"_id": "x"}, "unknown field: _id"),
    ],
)
def test_bad_fields_are_a_400_naming_them_and_nothing_is_stored(
    app, client, staff, change, message
):
    before = audit_rows(app)
    body = {**JANE, **change}

    assert message in json_error(client.post("/subject", json=body, headers=staff), 400)
    assert subject_rows(app) == 0
    assert audit_rows(app) == before


def test_a_taken_sssid_is_a_409_and_nothing_half_written(app, client, staff):
    create_subject(client, staff)
    before = audit_rows(app)

    response = client.post("/subject", json={**JANE, "name": "Someone Else"}, headers=staff)

    assert json_error(response, 409) == "sssid S-0042 is already taken"
    assert subject_rows(app) == 1 and audit_rows(app) == before
    assert client.get("/subject/S-0042", headers=staff).json["data"]["name"] == "Jane Roe"


def test_sssids_are_case_sensitive(client, staff):
    create_subject(client, staff, sssid="abc")

    assert client.post("/subject", json={**JANE, "sssid": "ABC"}, headers=staff).status_code == 201
    assert client.get("/subject/Abc", headers=staff).status_code == 404


@pytest.mark.parametrize("sssid", ["S-0043", "nope", "%00", "a" * 300, "S-0042%20"])
def test_unknown_subjects_are_a_404(client, staff, sssid):
    create_subject(client, staff)
    for path in (f"/subject/{sssid}", f"/subject/{sssid}/links", f"/subject/{sssid}/audits"):
        assert json_error(client.get(path, headers=staff), 404).startswith("no subject")
    response = client.put(f"/subject/{sssid}", json={"name": "x"}, headers=staff)
    assert json_error(response, 404).startswith("no subject")
    assert client.post(f"/subject/{sssid}/links", headers=staff).status_code == 404


def test_put_changes_name_bday_and_email(client, staff, fake_clock):
    created = create_subject(client, staff)
    fake_clock.advance(60)
    body = {"sssid": "S-0042", "name": " Jane Smith ", "bday": "1980-05-02", "email": None}

    response = client.put("/subject/S-0042", json=body, headers=staff)

    assert response.status_code == 200
    changed = response.json["data"]
    assert (changed["name"], changed["bday"], changed["email"]) == (
        "Jane Smith",
        "1980-05-02",
        None,
    )
    assert changed["changed"] > created["changed"] and changed["created"] == created["created"]


def test_put_with_the_same_values_changes_nothing(app, client, staff, fake_clock):
    created = create_subject(client, staff, date_consented="2026-11-24T16:40:00Z")
    before = audit_rows(app)
    fake_clock.advance(60)
    same = {**JANE, "name": " Jane Roe", "date_consented": "2026-11-24T17:40:00+01:00"}

    response = client.put("/subject/S-0042", json=same, headers=staff)

    assert response.status_code == 200
    assert response.json["data"]["changed"] == created["changed"]
    assert audit_rows(app) == before


def test_the_sssid_in_the_body_must_be_the_paths(client, staff):
    create_subject(client, staff)
    create_subject(client, staff, sssid="S-0043")

    response = client.put("/subject/S-0042", json={"sssid": "S-0043"}, headers=staff)

    assert json_error(response, 409) == "sssid cannot be changed"


@pytest.mark.parametrize(
    ("field", "word"), [("date_invited", "invited"), ("date_consented", "consented")]
)
def test_a_date_is_set_once(client, staff, field, word):
    create_subject(client, staff)
    first = client.put("/subject/S-0042", json={field: "2026-11-24T17:40:00+01:00"}, headers=staff)
    assert first.json["data"][field] == "2026-11-24T16:40:00+00:00"

    again = client.put("/subject/S-0042", json={field: "2026-11-24T16:40:00Z"}, headers=staff)
    other = client.put("/subject/S-0042", json={field: "2026-11-25"}, headers=staff)
    cleared = client.put("/subject/S-0042", json={field: None}, headers=staff)

    assert again.status_code == 200
    assert json_error(other, 409) == f"subject has already been {word}"
    assert json_error(cleared, 409) == f"subject has already been {word}"
    assert (
        client.get("/subject/S-0042", headers=staff).json["data"][field]
        == first.json["data"][field]
    )


def test_a_null_date_that_is_not_set_is_no_change(client, staff):
    create_subject(client, staff)

    response = client.put("/subject/S-0042", json={"date_invited": None}, headers=staff)

    assert response.status_code == 200 and response.json["data"]["date_invited"] is None


def test_a_refused_put_changes_nothing_at_all(app, client, staff):
    create_subject(client, staff, date_invited="2026-11-20")
    before = audit_rows(app)
    body = {"name": "Other Name", "date_invited": "2026-11-21"}

    assert client.put("/subject/S-0042", json=body, headers=staff).status_code == 409
    assert client.get("/subject/S-0042", headers=staff).json["data"]["name"] == "Jane Roe"
    assert audit_rows(app) == before


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"date_enrolled": "2026-11-24"}, 400, "date_enrolled is derived by the service"),
        ({"status": "withdrawn"}, 400, "status is derived by the service"),
        ({"created": None}, 400, "created is derived by the service"),
        ({"nickname": "JR"}, 400, "unknown field: nickname"),
        ({"name": ""}, 400, "name must not be empty"),
        ({"bday": "1980-5-1"}, 400, "bday must be a date written YYYY-MM-DD"),
    ],
)
def test_put_refuses_what_post_refuses(client, staff, body, status, message):
    create_subject(client, staff)

    assert message in json_error(client.put("/subject/S-0042", json=body, headers=staff), status)


def test_bodies_must_be_json_objects(client, staff):
    create_subject(client, staff)

    assert client.post("/subject", data="sssid=S-1", headers=staff).status_code == 415
    response = client.put("/subject/S-0042", json=["name"], headers=staff)
    assert json_error(response, 400) == "request body must be a JSON object"
