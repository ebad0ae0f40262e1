"""One account: GET /user/me, GET and PUT /user/<id>."""

import pytest
from conftest import ADMIN, UNKNOWN_ID, USER, assert_user, json_error, login

# --- GET /user/<id>, /user/me ----------------------------------------------------


def test_whoami(client, user_headers):
    assert_user(client.get("/user/me", headers=user_headers).json["data"], USER[0], admin=False)


def test_read(client, ids, admin_headers, user_headers):
    by_admin = client.get(f"/user/{ids['user']}", headers=admin_headers)
    by_self = client.get(f"/user/{ids['user']}", headers=user_headers)

    assert by_admin.status_code == by_self.status_code == 200
    assert_user(by_admin.json["data"], USER[0], admin=False)
    assert by_self.json == by_admin.json


def test_read_someone_else_is_forbidden(client, ids, user_headers):
    json_error(client.get(f"/user/{ids['admin']}", headers=user_headers), 403)
    json_error(client.get(f"/user/{ids['admin']}"), 401)


def test_read_unknown(client, admin_headers):
    assert (
        json_error(client.get(f"/user/{UNKNOWN_ID}", headers=admin_headers), 404) == "no such user"
    )


# --- PUT /user/<id> --------------------------------------------------------------


def put(client, user_id, body, headers):
    return client.put(f"/user/{user_id}", json=body, headers=headers)


def test_admin_grants_and_removes_admin(client, ids, admin_headers):
    granted = put(client, ids["user"], {"admin": True}, admin_headers)
    assert_user(granted.json["data"], USER[0], admin=True)

    removed = put(client, ids["user"], {"admin": False}, admin_headers)
    assert_user(removed.json["data"], USER[0], admin=False)
    assert removed.json["data"]["changed"] >= granted.json["data"]["created"]


def test_admin_sets_a_password(client, ids, admin_headers):
    response = put(client, ids["user"], {"password": "set by the admin"}, admin_headers)

    assert response.status_code == 200
    assert login(client, USER[0], "set by the admin")
    json_error(client.post("/auth", json={"username": USER[0], "password": USER[1]}), 401)


def test_user_changes_own_password(client, ids, user_headers):
    body = {"password": "my new password", "current_password": USER[1]}

    response = put(client, ids["user"], body, user_headers)

    assert_user(response.json["data"], USER[0], admin=False)
    assert login(client, USER[0], "my new password")
    json_error(client.get("/user/me", headers=user_headers), 401)  # the old token died


@pytest.mark.parametrize("current", [None, "", "not my password", USER[1].upper()])
def test_own_password_change_needs_the_current_password(client, ids, user_headers, current):
    body = {"password": "my new password"}
    if current is not None:
        body["current_password"] = current

    assert "current_password" in json_error(put(client, ids["user"], body, user_headers), 403)
    assert login(client, *USER)  # unchanged


def test_an_admin_also_proves_the_current_password_for_their_own(client, ids, admin_headers):
    json_error(put(client, ids["admin"], {"password": "admin's new password"}, admin_headers), 403)

    body = {"password": "admin's new password", "current_password": ADMIN[1]}
    assert put(client, ids["admin"], body, admin_headers).status_code == 200
    assert login(client, ADMIN[0], "admin's new password")


@pytest.mark.parametrize("current", [{}, ["x"], 12345678, True])
def test_a_malformed_current_password_is_refused_even_where_unused(
    client, ids, admin_headers, current
):
    """Every field is parsed at the edge: an admin changing someone else needs no
    current_password, but one that is not a string is still a 400, not ignored."""
    body = {"admin": True, "current_password": current}

    message = json_error(put(client, ids["user"], body, admin_headers), 400)

    assert message == "current_password must be a string"
    assert client.get("/user/me", headers=login(client, *USER)).json["data"]["admin"] is False


def test_a_user_cannot_make_itself_admin(client, ids, user_headers):
    body = {"admin": True, "password": "my new password", "current_password": USER[1]}

    assert "admin" in json_error(put(client, ids["user"], body, user_headers), 403)
    assert client.get("/user/me", headers=user_headers).json["data"]["admin"] is False
    assert login(client, *USER)  # and nothing else of the request happened


def test_a_user_cannot_change_someone_else(client, ids, user_headers, admin_headers):
    body = {"password": "taken over", "current_password": USER[1]}

    json_error(put(client, ids["admin"], body, user_headers), 403)
    json_error(put(client, ids["admin"], {"admin": False}, user_headers), 403)
    assert login(client, *ADMIN)


def test_a_user_must_send_a_password(client, ids, user_headers):
    assert "password is required" in json_error(put(client, ids["user"], {}, user_headers), 400)


def test_the_last_admin_cannot_be_demoted(client, ids, admin_headers):
    response = put(client, ids["admin"], {"admin": False}, admin_headers)

    assert "last admin" in json_error(response, 409)
    assert client.get("/user/me", headers=admin_headers).json["data"]["admin"] is True


def test_an_admin_can_be_demoted_while_another_remains(client, ids, admin_headers):
    put(client, ids["user"], {"admin": True}, admin_headers)

    response = put(client, ids["admin"], {"admin": False}, admin_headers)

    assert response.json["data"]["admin"] is False
    json_error(client.get("/users", headers=admin_headers), 403)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"admin": "true"}, "admin must be true or false"),
        ({"password": "short"}, "at least 8 characters"),
        ({"password": "12345678"}, "too common"),
        ({"password": 123456789}, "password must be a string"),
        ({"password": "nul\x00password"}, "NUL"),
        ({"username": "renamed@example.org"}, "unknown field: username"),
    ],
)
def test_change_refuses_bad_input(client, ids, admin_headers, body, reason):
    assert reason in json_error(put(client, ids["user"], body, admin_headers), 400)
    assert login(client, *USER)


def test_change_unknown(client, admin_headers):
    json_error(put(client, UNKNOWN_ID, {"admin": True}, admin_headers), 404)
