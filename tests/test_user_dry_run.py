"""POST /user?dry_run=1: the answer a creation would give, and no user created.

Clients (create_users.py) check each answer as it is typed, so a dry run
checks the fields it is given, any of them, by the same rules as POST /user.
"""

import pytest
from conftest import USER, json_error
from sqlalchemy import func, select

from idm.models import AuditEvent, User, db

NEW = {"username": "New.Person@Example.org", "password": "new person's password"}
DRY = "/user?dry_run=1"


def rows(app):
    """(users, audit events) in the database: a dry run adds to neither."""
    with app.app_context():
        users = db.session.scalar(select(func.count()).select_from(User))
        events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    return users, events


def total(client, admin_headers):
    """The user count /users reports, kept by triggers on the users table.

    1 is the admin fixture alone.
    """
    return client.get("/users", headers=admin_headers).json["total"]


@pytest.mark.parametrize(
    "body",
    [dict(NEW, admin=True), NEW, {"username": NEW["username"]}, {"password": "long enough"}, {}],
    ids=["every field", "username and password", "username only", "password only", "nothing"],
)
def test_acceptable_fields_answer_204_and_create_nothing(app, client, admin_headers, body):
    before = rows(app)

    response = client.post(DRY, json=body, headers=admin_headers)

    assert response.status_code == 204
    assert response.data == b""
    assert rows(app) == before
    assert total(client, admin_headers) == 1
    assert client.get("/users?search=new.person", headers=admin_headers).json["data"] == []


def test_the_username_stays_free_after_a_dry_run(client, admin_headers):
    assert client.post(DRY, json=NEW, headers=admin_headers).status_code == 204

    created = client.post("/user", json=NEW, headers=admin_headers)

    assert created.status_code == 201
    assert created.json["data"]["username"] == "new.person@example.org"


@pytest.mark.parametrize("username", [USER[0], USER[0].upper(), f" {USER[0]} "])
def test_a_taken_username_is_a_conflict_as_for_a_creation(
    app, client, user, admin_headers, username
):
    before = rows(app)

    dry = client.post(DRY, json={"username": username}, headers=admin_headers)

    message = json_error(dry, 409)
    assert message == f"username {USER[0]} is already taken"
    real = client.post("/user", json=dict(NEW, username=username), headers=admin_headers)
    assert json_error(real, 409) == message
    assert rows(app) == before


def test_a_conflict_leaves_the_session_usable(client, user, admin_headers):
    json_error(client.post(DRY, json={"username": USER[0]}, headers=admin_headers), 409)

    assert client.post(DRY, json=NEW, headers=admin_headers).status_code == 204
    assert client.post("/user", json=NEW, headers=admin_headers).status_code == 201


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("password", "short", "password must be at least 8 characters"),
        ("password", "password123", "password is too common"),
        ("password", "x" * 257, "password must be at most 256 characters"),
        ("password", "nul byte\x00here", "password must not contain NUL"),
        ("password", 12345678, "password must be a string"),
        ("username", "not-an-email", "username must be an email address"),
        ("username", "   ", "username is required"),
        ("username", ["a@example.org"], "username must be a string"),
        ("admin", "yes", "admin must be true or false"),
        ("role", "admin", "unknown field: role"),
    ],
)
def test_a_bad_field_is_refused_as_by_a_creation(app, client, admin_headers, field, value, reason):
    before = rows(app)

    alone = json_error(client.post(DRY, json={field: value}, headers=admin_headers), 400)
    with_others = json_error(
        client.post(DRY, json={**NEW, field: value}, headers=admin_headers), 400
    )

    assert reason in alone
    assert with_others == alone
    real = client.post("/user", json={**NEW, field: value}, headers=admin_headers)
    assert json_error(real, 400) == alone
    assert rows(app) == before


def test_fields_are_checked_in_the_order_of_a_creation(client, user, admin_headers):
    # Taken username and bad password: a creation names the password, as
    # the taken username is only found at the insert.
    body = {"username": USER[0], "password": "short"}

    dry = json_error(client.post(DRY, json=body, headers=admin_headers), 400)

    assert dry == json_error(client.post("/user", json=body, headers=admin_headers), 400)
    assert "password" in dry


def test_a_body_that_is_not_json_is_refused_as_by_a_creation(client, admin_headers):
    response = client.post(DRY, data="username=x", headers=admin_headers)

    assert json_error(response, 415) == json_error(
        client.post("/user", data="username=x", headers=admin_headers), 415
    )


@pytest.mark.parametrize("value", ["1", "true"])
def test_dry_run_values_that_mean_yes(client, admin_headers, value):
    response = client.post(f"/user?dry_run={value}", json=NEW, headers=admin_headers)

    assert response.status_code == 204
    assert total(client, admin_headers) == 1


@pytest.mark.parametrize("value", ["0", "false"])
def test_dry_run_values_that_mean_no_create(client, admin_headers, value):
    response = client.post(f"/user?dry_run={value}", json=NEW, headers=admin_headers)

    assert response.status_code == 201
    assert total(client, admin_headers) == 2


@pytest.mark.parametrize("value", ["", "yes", "2", "TRUE", "on", "1 "])
def test_any_other_dry_run_value_is_refused(app, client, admin_headers, value):
    before = rows(app)

    response = client.post(
        "/user", query_string={"dry_run": value}, json=NEW, headers=admin_headers
    )

    assert json_error(response, 400) == "dry_run must be 1, 0, true or false"
    assert rows(app) == before


def test_a_dry_run_needs_an_admin(app, client, user_headers):
    before = rows(app)

    assert json_error(client.post(DRY, json=NEW, headers=user_headers), 403)
    assert json_error(client.post(DRY, json=NEW), 401)
    assert rows(app) == before


def test_authentication_comes_before_the_dry_run_value(client, user_headers):
    json_error(client.post("/user?dry_run=maybe", json=NEW, headers=user_headers), 403)
    json_error(client.post("/user?dry_run=maybe", json=NEW), 401)
