"""POST /auth and the Authorization header: who gets a token, and which tokens still count."""

import pytest
from conftest import ADMIN, USER, json_error, login

import idm.users

BAD_CREDENTIALS = "wrong username or password"
CHALLENGE = 'Bearer realm="idm"'
ADMIN_LOGIN = {"username": ADMIN[0], "password": ADMIN[1]}


def token_of(response):
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def test_json_login(app, client, admin):
    response = client.post("/auth", json=ADMIN_LOGIN)

    assert response.status_code == 200
    assert set(response.json) == {"access_token", "token_type", "expires_in"}
    assert response.json["token_type"] == "Bearer"
    assert response.json["expires_in"] == app.config["IDM_ACCESS_TOKEN_LIFETIME"]
    headers = {"Authorization": "Bearer " + response.json["access_token"]}
    assert client.get("/user/me", headers=headers).json["data"]["username"] == ADMIN[0]


def test_basic_login(client, admin):
    response = client.post("/auth", auth=ADMIN)

    headers = {"Authorization": "JWT " + token_of(response)}
    assert response.json["token_type"] == "Bearer"
    assert client.get("/user/me", headers=headers).json["data"]["username"] == ADMIN[0]


def test_login_records_last_login(client, admin):
    me = client.get("/user/me", headers=login(client, *ADMIN)).json["data"]

    assert me["last_login"] is not None
    assert me["last_login"].endswith("+00:00")


@pytest.mark.parametrize(
    "username", ["ADMIN@EXAMPLE.ORG", "  admin@example.org\t", " Admin@Example.Org"]
)
def test_username_ignores_case_and_surrounding_space(client, admin, username):
    response = client.post("/auth", json={"username": username, "password": ADMIN[1]})

    assert response.status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "nobody@example.org", "password": ADMIN[1]},
        {"username": ADMIN[0], "password": "not the password"},
        {"username": ADMIN[0], "password": ADMIN[1].upper()},
        {"username": ADMIN[0], "password": ""},
        {"username": "", "password": ""},
    ],
    ids=["unknown user", "wrong password", "password case", "empty password", "empty"],
)
def test_bad_credentials_get_one_answer(client, admin, credentials):
    response = client.post("/auth", json=credentials)

    assert json_error(response, 401) == BAD_CREDENTIALS
    assert response.headers["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize(
    "auth", [("nobody@example.org", ADMIN[1]), (ADMIN[0], "not the password"), (ADMIN[0], "a\x00b")]
)
def test_bad_basic_credentials_get_the_same_answer(client, admin, auth):
    response = client.post("/auth", auth=auth)

    assert json_error(response, 401) == BAD_CREDENTIALS
    assert response.headers["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"data": "username=a&password=b"}, 415, "must be JSON"),
        ({}, 415, "must be JSON"),
        ({"data": '{"username": ', "content_type": "application/json"}, 400, "not valid JSON"),
        ({"data": "null", "content_type": "application/json"}, 400, "not valid JSON"),
        ({"json": [ADMIN[0], ADMIN[1]]}, 400, "must be a JSON object"),
        ({"json": "admin@example.org"}, 400, "must be a JSON object"),
        ({"json": 42}, 400, "must be a JSON object"),
        ({"json": {}}, 400, "username is required"),
        ({"json": {"password": ADMIN[1]}}, 400, "username is required"),
        ({"json": {"username": ADMIN[0]}}, 400, "password is required"),
        ({"json": {"username": 7, "password": ADMIN[1]}}, 400, "username must be a string"),
        ({"json": {"username": ADMIN[0], "password": [1]}}, 400, "password must be a string"),
        ({"json": {"username": ADMIN[0] + "\x00", "password": "x"}}, 400, "NUL"),
        ({"json": {"username": ADMIN[0], "password": "x\x00"}}, 400, "NUL"),
        (
            {"json": dict(ADMIN_LOGIN, admin=True)},
            400,
            "unknown field: admin",
        ),
    ],
    ids=[
        "form body",
        "no body",
        "malformed",
        "null",
        "array",
        "string",
        "number",
        "empty object",
        "no username",
        "no password",
        "username number",
        "password list",
        "NUL username",
        "NUL password",
        "unknown field",
    ],
)
def test_bad_bodies(client, admin, body, status, reason):
    response = client.post("/auth", **body)

    assert reason in json_error(response, status)


def test_an_unknown_user_costs_a_password_check(app, client, admin, monkeypatch):
    checked = []
    real_check = idm.users.check_password_hash

    def counting_check(stored, password):
        checked.append(stored)
        return real_check(stored, password)

    monkeypatch.setattr(idm.users, "check_password_hash", counting_check)

    client.post("/auth", json={"username": "nobody@example.org", "password": "a password"})
    assert len(checked) == 1
    # as costly as a real check: the same hash method and parameters
    assert checked[0].startswith(app.config["IDM_PASSWORD_HASH_METHOD"] + "$")

    client.post("/auth", json={"username": ADMIN[0], "password": "a password"})
    assert len(checked) == 2


@pytest.mark.parametrize("scheme", ["Bearer", "JWT", "bearer", "jwt"])
def test_token_schemes_accepted(client, admin, scheme):
    token = token_of(client.post("/auth", json=ADMIN_LOGIN))

    response = client.get("/user/me", headers={"Authorization": f"{scheme} {token}"})

    assert response.status_code == 200
    assert response.json["data"]["username"] == ADMIN[0]


@pytest.mark.parametrize(
    ("header", "invalid_token"),
    [
        (None, False),
        ("", False),
        ("Basic {token}", False),
        ("Token {token}", False),
        ("{token}", False),
        ("JWT{token}", False),
        ("Bearer", True),
        ("Bearer {token}x", True),
        ("Bearer x{token}", True),
        ("JWT not.a.token", True),
    ],
)
def test_requests_without_a_good_token_are_refused(client, admin, header, invalid_token):
    token = login(client, *ADMIN)["Authorization"].split()[1]
    headers = {} if header is None else {"Authorization": header.format(token=token)}

    response = client.get("/user/me", headers=headers)

    json_error(response, 401)
    challenge = CHALLENGE + (', error="invalid_token"' if invalid_token else "")
    assert response.headers["WWW-Authenticate"] == challenge


def test_a_deleted_users_token_is_refused(client, user, admin_headers, user_headers):
    user_id = client.get("/user/me", headers=user_headers).json["data"]["id"]
    assert client.delete(f"/user/{user_id}", headers=admin_headers).status_code == 204

    response = client.get("/user/me", headers=user_headers)

    assert "no longer exists" in json_error(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_password_change_ends_older_tokens(client, user, admin_headers, user_headers):
    user_id = client.get("/user/me", headers=user_headers).json["data"]["id"]
    new_password = "a brand new password"
    changed = client.put(f"/user/{user_id}", json={"password": new_password}, headers=admin_headers)
    assert changed.status_code == 200

    response = client.get("/user/me", headers=user_headers)

    assert "revoked" in json_error(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    fresh = login(client, USER[0], new_password)  # a token issued after the change works
    assert client.get("/user/me", headers=fresh).status_code == 200
    assert client.post("/auth", json={"username": USER[0], "password": USER[1]}).status_code == 401


def create(client, headers, username, password, admin=False):
    body = {"username": username, "password": password, "admin": admin}
    response = client.post("/user", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["data"]["id"]


def test_a_demoted_admin_loses_rights_at_once(client, admin_headers):
    second_id = create(client, admin_headers, "second@example.org", "second admin pw", admin=True)
    second = login(client, "second@example.org", "second admin pw")
    assert client.get("/users", headers=second).status_code == 200

    demoted = client.put(f"/user/{second_id}", json={"admin": False}, headers=admin_headers)
    assert demoted.status_code == 200

    json_error(client.get("/users", headers=second), 403)
    json_error(
        client.post(
            "/user", json={"username": "x@example.org", "password": "pw pw pw pw"}, headers=second
        ),
        403,
    )
    assert client.get("/user/me", headers=second).json["data"]["admin"] is False


def test_a_promoted_user_gains_rights_at_once(client, user, admin_headers, user_headers):
    json_error(client.get("/users", headers=user_headers), 403)
    user_id = client.get("/user/me", headers=user_headers).json["data"]["id"]

    client.put(f"/user/{user_id}", json={"admin": True}, headers=admin_headers)

    assert client.get("/users", headers=user_headers).status_code == 200


@pytest.mark.parametrize("header", ["Basic !!!", "Basic a", "basic %%%%"])
def test_malformed_basic_credentials_are_400(client, header):
    response = client.post("/auth", headers={"Authorization": header})

    assert "Basic credentials are malformed" in json_error(response, 400)
