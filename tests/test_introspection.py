"""POST /auth/introspect (RFC 7662): who may ask, and what it answers about a token."""

import base64

import jwt
import pytest
from conftest import ADMIN, USER, json_error, login

from idm.introspection import secret_digest

CLIENT_ID, CLIENT_SECRET = "reports-api", "a client secret of many random characters 1"


@pytest.fixture
def app_config():
    return {"IDM_INTROSPECTION_CLIENTS": {CLIENT_ID: secret_digest(CLIENT_SECRET)}}


def basic(client_id=CLIENT_ID, secret=CLIENT_SECRET):
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def token_of(headers):
    return headers["Authorization"].split()[1]


def introspect(client, token, headers=None, **form):
    return client.post(
        "/auth/introspect", data={"token": token, **form}, headers=headers or basic()
    )


def active(client, headers):
    response = introspect(client, token_of(headers))
    assert response.status_code == 200, response.json
    return response.json["active"]


def test_an_active_token_and_its_claims(client, user_headers, ids):
    response = introspect(client, token_of(user_headers), token_type_hint="access_token")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    claims = jwt.decode(token_of(user_headers), options={"verify_signature": False})
    assert body == {
        "active": True,
        **claims,
        "username": USER[0],
        "admin": False,
        "token_type": "Bearer",
    }
    assert body["sub"] == ids["user"]


def test_json_is_accepted_too(client, user_headers):
    response = client.post(
        "/auth/introspect", json={"token": token_of(user_headers)}, headers=basic()
    )

    assert response.json["active"] is True


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "e30.e30.", "x" * 5000])
def test_anything_that_is_no_token_is_inactive(client, admin, token):
    response = introspect(client, token)

    assert response.json == {"active": False}


def test_logout_makes_the_token_inactive(client, user_headers):
    assert active(client, user_headers) is True

    client.post("/auth/logout", headers=user_headers)

    assert introspect(client, token_of(user_headers)).json == {"active": False}


def test_logout_everywhere_and_password_change_make_older_tokens_inactive(
    client, user, fake_clock, ids
):
    first, second = login(client, *user), login(client, *user)
    fake_clock.advance(1)
    client.post("/auth/logout?all=1", headers=first)
    assert active(client, second) is False

    third = login(client, *user)
    fake_clock.advance(1)
    change = {"password": "a new password 2", "current_password": USER[1]}
    answer = client.put(f"/user/{ids['user']}", json=change, headers=third)
    assert answer.status_code == 200
    assert active(client, third) is False
    assert active(client, {"Authorization": "Bearer " + answer.json["access_token"]}) is True


def test_deletion_makes_every_token_inactive(client, user_headers, admin_headers, ids):
    client.delete(f"/user/{ids['user']}", headers=admin_headers)

    assert active(client, user_headers) is False


def test_demotion_shows_at_once_while_the_token_stays_active(
    client, admin_headers, user_headers, ids
):
    client.put(f"/user/{ids['user']}", json={"admin": True}, headers=admin_headers)
    assert introspect(client, token_of(user_headers)).json["admin"] is True

    client.put(f"/user/{ids['user']}", json={"admin": False}, headers=admin_headers)

    body = introspect(client, token_of(user_headers)).json
    assert body["active"] is True and body["admin"] is False


def test_an_expired_token_is_inactive(client, user_headers, fake_clock):
    fake_clock.advance(15 * 60)

    assert active(client, user_headers) is False


def test_an_admin_may_introspect_with_a_token(client, admin_headers, user_headers):
    response = introspect(client, token_of(user_headers), headers=admin_headers)

    assert response.json["active"] is True
    assert response.json["username"] == USER[0]


def test_a_user_who_is_no_admin_may_not(client, user_headers):
    response = introspect(client, token_of(user_headers), headers=user_headers)

    assert json_error(response, 403) == "admin rights required"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic(secret="a wrong secret"),
        basic(client_id="someone-else"),
        basic(client_id="", secret=""),
        {"Authorization": "Basic not base64!"},
    ],
)
def test_no_or_wrong_client_credentials_are_a_401_with_both_challenges(client, admin, headers):
    response = client.post("/auth/introspect", data={"token": "x"}, headers=headers)

    json_error(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Basic realm="idm", Bearer realm="idm"'


def test_a_bad_bearer_token_is_a_401_naming_it(client, admin):
    response = introspect(client, "x", headers={"Authorization": "Bearer nonsense"})

    assert json_error(response, 401) == "token is malformed"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "token is required"),
        ({"token": ""}, "token is required"),
        ({"token": "x", "client_id": CLIENT_ID}, "unknown field: client_id"),
        ({"token": ["x", "y"]}, "each field may be sent once"),
        ({"token": "x\x00"}, "token must not contain NUL characters"),
    ],
)
def test_bad_forms_are_a_400_naming_the_field(client, admin, data, message):
    response = client.post("/auth/introspect", data=data, headers=basic())

    assert json_error(response, 400) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [({"token": 42}, "token must be a string"), ({"token": "x", "other": 1}, "unknown field")],
)
def test_bad_json_is_a_400(client, admin, body, message):
    response = client.post("/auth/introspect", json=body, headers=basic())

    assert message in json_error(response, 400)


def test_other_bodies_are_a_415(client, admin):
    response = client.post(
        "/auth/introspect", data="token=x", content_type="text/plain", headers=basic()
    )

    assert "form-encoded" in json_error(response, 415)


def test_the_answer_is_the_same_for_every_reason_to_be_inactive(client, user, admin_headers):
    logged_out = login(client, *user)
    client.post("/auth/logout", headers=logged_out)

    answers = {
        str(introspect(client, token).json)
        for token in (token_of(logged_out), "garbage", token_of(admin_headers)[:-2] + "AA")
    }

    assert answers == {"{'active': False}"}


def test_login_with_the_introspection_credentials_is_not_possible(client, admin):
    # A client secret opens introspection only, never a token.
    response = client.post("/auth", headers=basic())

    assert response.status_code == 401
    assert login(client, *ADMIN)
