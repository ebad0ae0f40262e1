"""Creating and deleting users: POST /user, DELETE /user, DELETE /user/<id>."""

import pytest
from conftest import ADMIN, USER, assert_user, json_error, login
from sqlalchemy import delete
from werkzeug.exceptions import NotFound

from idm import users
from idm.models import User, db

NEW = {"username": "New.Person@Example.org", "password": "new person's password"}


def secret_keys(value):
    """Every key in a JSON document that looks like a password or a hash."""
    if isinstance(value, dict):
        found = {k for k in value if "password" in k.lower() or "hash" in k.lower()}
        return found.union(*(secret_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(secret_keys(v) for v in value))
    return set()


def usernames(client, admin_headers):
    return [u["username"] for u in client.get("/users", headers=admin_headers).json["data"]]


# --- POST /user ---------------------------------------------------------------


def test_create(client, admin_headers):
    response = client.post("/user", json=NEW, headers=admin_headers)

    assert response.status_code == 201
    data = response.json["data"]
    assert_user(data, "new.person@example.org", admin=False)
    assert data["last_login"] is None
    assert response.headers["Location"] == f"/user/{data['id']}"
    assert client.get(response.headers["Location"], headers=admin_headers).json["data"] == data
    assert login(client, "new.person@example.org", NEW["password"])


def test_create_admin(client, admin_headers):
    response = client.post("/user", json=dict(NEW, admin=True), headers=admin_headers)

    assert_user(response.json["data"], "new.person@example.org", admin=True)
    assert (
        client.get("/users", headers=login(client, NEW["username"], NEW["password"])).status_code
        == 200
    )


def test_no_response_holds_a_password_or_hash(client, user, admin_headers, user_headers):
    created = client.post("/user", json=NEW, headers=admin_headers)
    new_id = created.json["data"]["id"]
    responses = [
        created,
        client.get("/user/me", headers=admin_headers),
        client.get(f"/user/{new_id}", headers=admin_headers),
        client.put(
            f"/user/{new_id}", json={"password": "yet another password"}, headers=admin_headers
        ),
        client.get("/users", headers=admin_headers),
        client.get("/users?search=new", headers=admin_headers),
        client.get("/user/me", headers=user_headers),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.json
        assert secret_keys(response.json) == set(), response.request.path
        for secret in (NEW["password"], "yet another password", ADMIN[1], USER[1], "pbkdf2"):
            assert secret not in response.text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (dict(NEW, username="plain"), "must be an email address"),
        (dict(NEW, username="a@b"), "must be an email address"),
        (dict(NEW, username="two words@example.org"), "must be an email address"),
        (dict(NEW, username="a@b@example.org"), "must be an email address"),
        (dict(NEW, username="   "), "username is required"),
        (dict(NEW, username="x" * 250 + "@example.org"), "at most 254 characters"),
        # The bound is on what was sent, as the OpenAPI description's maxLength says.
        (dict(NEW, username=" " * 10 + "x" * 240 + "@example.org"), "at most 254 characters"),
        (dict(NEW, password="short"), "at least 8 characters"),
        (dict(NEW, password=""), "at least 8 characters"),
        (dict(NEW, password="x" * 257), "at most 256 characters"),
        (dict(NEW, password="password123"), "too common"),
        (dict(NEW, password="PassWord123"), "too common"),
        ({"username": NEW["username"]}, "password is required"),
        ({"password": NEW["password"]}, "username is required"),
        (dict(NEW, username=["a@example.org"]), "username must be a string"),
        (dict(NEW, password=12345678), "password must be a string"),
        (dict(NEW, admin="yes"), "admin must be true or false"),
        (dict(NEW, admin=1), "admin must be true or false"),
        (dict(NEW, username="nul\x00@example.org"), "NUL"),
        (dict(NEW, password="nul byte\x00here"), "NUL"),
        (dict(NEW, role="admin"), "unknown field: role"),
        ([NEW], "must be a JSON object"),
    ],
)
def test_create_refuses_bad_input(client, admin_headers, body, reason):
    response = client.post("/user", json=body, headers=admin_headers)

    assert reason in json_error(response, 400)
    assert usernames(client, admin_headers) == [ADMIN[0]]  # nothing half-written


def test_a_long_unicode_password_is_fine(client, admin_headers):
    password = "пароль 密码 🔑" * 10 + "é" * 146  # exactly 256 characters
    assert len(password) == 256

    response = client.post("/user", json=dict(NEW, password=password), headers=admin_headers)

    assert response.status_code == 201
    assert login(client, NEW["username"], password)


@pytest.mark.parametrize(
    "username", [NEW["username"], NEW["username"].upper(), " new.person@example.ORG "]
)
def test_create_duplicate_is_a_conflict(client, admin_headers, username):
    assert client.post("/user", json=NEW, headers=admin_headers).status_code == 201

    response = client.post("/user", json=dict(NEW, username=username), headers=admin_headers)

    assert "already taken" in json_error(response, 409)
    assert usernames(client, admin_headers) == [ADMIN[0], "new.person@example.org"]


def test_create_needs_an_admin(client, user_headers, admin_headers):
    json_error(client.post("/user", json=NEW, headers=user_headers), 403)
    json_error(client.post("/user", json=NEW), 401)
    assert usernames(client, admin_headers) == [ADMIN[0], USER[0]]


# --- DELETE /user ---------------------------------------------------------------


def test_delete_by_username(client, user, admin_headers):
    response = client.delete(
        "/user", json={"username": " USER@example.org "}, headers=admin_headers
    )

    assert response.status_code == 204
    assert response.data == b""
    assert usernames(client, admin_headers) == [ADMIN[0]]
    json_error(client.post("/auth", json={"username": USER[0], "password": USER[1]}), 401)


def test_delete_by_username_unknown(client, admin_headers):
    response = client.delete(
        "/user", json={"username": "nobody@example.org"}, headers=admin_headers
    )

    assert "no user nobody@example.org" in json_error(response, 404)


def test_delete_of_a_user_deleted_meanwhile_is_not_found(app, user):
    """Two deletes of one user race: the second finds the user, then deletes no
    row, because the first one's delete committed in between. 404, not a 500."""
    with app.app_context():
        found = users.find_by_username(USER[0])
        with db.engine.begin() as first:
            first.execute(delete(User).where(User.username == USER[0]))

        with pytest.raises(NotFound, match="no such user"):
            users.delete_user(found)


def test_delete_by_username_refuses_the_last_admin(client, admin_headers):
    response = client.delete("/user", json={"username": ADMIN[0]}, headers=admin_headers)

    assert "last admin" in json_error(response, 409)
    assert usernames(client, admin_headers) == [ADMIN[0]]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "username is required"),
        ({"username": 3}, "must be a string"),
        ({"id": "x"}, "unknown field"),
    ],
)
def test_delete_by_username_bad_body(client, admin_headers, body, reason):
    assert reason in json_error(client.delete("/user", json=body, headers=admin_headers), 400)


def test_delete_by_username_needs_an_admin(client, user, admin_headers, user_headers):
    json_error(client.delete("/user", json={"username": ADMIN[0]}, headers=user_headers), 403)
    json_error(client.delete("/user", json={"username": USER[0]}), 401)
    assert usernames(client, admin_headers) == [ADMIN[0], USER[0]]


# --- DELETE /user/<id> ------------------------------------------------------------


def test_delete(client, ids, admin_headers):
    response = client.delete(f"/user/{ids['user']}", headers=admin_headers)

    assert response.status_code == 204
    json_error(client.get(f"/user/{ids['user']}", headers=admin_headers), 404)
    json_error(client.delete(f"/user/{ids['user']}", headers=admin_headers), 404)


def test_delete_refuses_the_last_admin(client, ids, admin_headers):
    assert "last admin" in json_error(
        client.delete(f"/user/{ids['admin']}", headers=admin_headers), 409
    )


def test_delete_an_admin_while_another_remains(client, ids, admin_headers):
    client.put(f"/user/{ids['user']}", json={"admin": True}, headers=admin_headers)

    assert client.delete(f"/user/{ids['admin']}", headers=admin_headers).status_code == 204
    assert login(client, *USER)


def test_delete_needs_an_admin(client, ids, user_headers):
    json_error(client.delete(f"/user/{ids['user']}", headers=user_headers), 403)
    json_error(client.delete(f"/user/{ids['user']}"), 401)
    assert client.get("/user/me", headers=user_headers).status_code == 200
