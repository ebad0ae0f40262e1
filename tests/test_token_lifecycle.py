"""Refresh, logout, password change and immediate effect of account changes."""

import jwt
import pytest
from conftest import USER, login
from sqlalchemy import event, func, select

from idm.models import RevokedToken, db

DAY = 24 * 3600


def bearer(token):
    return {"Authorization": "Bearer " + token}


def claims_of(headers):
    token = headers["Authorization"].split()[1]
    return jwt.decode(token, options={"verify_signature": False})


def test_refresh_returns_a_new_token_of_the_same_shape(client, user_headers):
    response = client.post("/auth/refresh", headers=user_headers)

    assert response.status_code == 200
    assert set(response.json) == {"access_token", "token_type", "expires_in"}
    assert response.json["token_type"] == "Bearer"
    assert response.json["expires_in"] == 15 * 60
    fresh = bearer(response.json["access_token"])
    assert client.get("/user/me", headers=fresh).json["data"]["username"] == USER[0]


def test_refresh_keeps_the_original_login_time(client, user_headers, fake_clock):
    fake_clock.advance(600)
    fresh = bearer(client.post("/auth/refresh", headers=user_headers).json["access_token"])

    old, new = claims_of(user_headers), claims_of(fresh)
    assert new["auth_time"] == old["auth_time"]
    assert new["iat"] >= old["iat"] + 600
    assert new["jti"] != old["jti"]


def test_refreshed_away_token_is_refused(client, user_headers):
    assert client.post("/auth/refresh", headers=user_headers).status_code == 200

    assert client.get("/user/me", headers=user_headers).status_code == 401
    again = client.post("/auth/refresh", headers=user_headers)
    assert again.status_code == 401
    assert again.json["error"]["message"] == "token was logged out"


def test_refresh_works_until_the_limit_after_login_then_401(app, client, user, fake_clock):
    app.config["IDM_REFRESH_LIMIT"] = 3600
    headers = login(client, *user)
    # A client refreshing every 14 minutes keeps its session for an hour…
    for _ in range(4):
        fake_clock.advance(14 * 60)
        response = client.post("/auth/refresh", headers=headers)
        assert response.status_code == 200
        headers = bearer(response.json["access_token"])

    # …and no longer: 56 minutes gone, 70 after this step.
    fake_clock.advance(14 * 60)
    response = client.post("/auth/refresh", headers=headers)
    assert response.status_code == 401
    assert "log in with your password again" in response.json["error"]["message"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    # The token itself is still good for other requests until it expires.
    assert client.get("/user/me", headers=headers).status_code == 200
    # A password login starts a new session.
    assert client.post("/auth/refresh", headers=login(client, *user)).status_code == 200


def test_default_refresh_limit_is_seven_days(app, client, user, fake_clock):
    # A token long enough to outlive the limit isolates the limit itself.
    app.config["IDM_ACCESS_TOKEN_LIFETIME"] = 8 * DAY
    headers = login(client, *user)

    fake_clock.advance(7 * DAY - 60)
    assert client.post("/auth/refresh", headers=headers).status_code == 200
    headers = login(client, *user)
    fake_clock.advance(7 * DAY)
    assert client.post("/auth/refresh", headers=headers).status_code == 401


def test_expired_token_cannot_be_refreshed(client, user_headers, fake_clock):
    fake_clock.advance(15 * 60 + 1)

    response = client.post("/auth/refresh", headers=user_headers)

    assert response.status_code == 401
    assert response.json["error"]["message"] == "token has expired"


def test_refresh_needs_a_token(client):
    response = client.post("/auth/refresh")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idm"'


def test_logout_kills_only_the_presented_token(client, user):
    first, second = login(client, *user), login(client, *user)

    response = client.post("/auth/logout", headers=first)

    assert response.status_code == 204
    assert response.data == b""
    refused = client.get("/user/me", headers=first)
    assert refused.status_code == 401
    assert refused.json["error"]["message"] == "token was logged out"
    assert client.post("/auth/logout", headers=first).status_code == 401
    assert client.get("/user/me", headers=second).status_code == 200


def test_logout_all_kills_every_token_of_the_user(client, user, admin_headers, fake_clock):
    first, second = login(client, *user), login(client, *user)
    fake_clock.advance(1)

    assert client.post("/auth/logout?all=1", headers=first).status_code == 204

    assert client.get("/user/me", headers=first).status_code == 401
    assert client.get("/user/me", headers=second).status_code == 401
    assert client.get("/user/me", headers=admin_headers).status_code == 200
    fake_clock.advance(1)
    assert client.get("/user/me", headers=login(client, *user)).status_code == 200


@pytest.mark.parametrize("value", ["yes", "2", "all"])
def test_logout_all_flag_must_be_one_or_zero(client, user_headers, value):
    response = client.post(f"/auth/logout?all={value}", headers=user_headers)

    assert response.status_code == 400
    assert response.json["error"]["message"] == "all must be 1, 0, true or false"
    assert client.get("/user/me", headers=user_headers).status_code == 200


def test_logout_records_are_pruned_once_their_token_expired(app, client, user, fake_clock):
    client.post("/auth/logout", headers=login(client, *user))
    fake_clock.advance(15 * 60 + 1)

    client.post("/auth/logout", headers=login(client, *user))

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RevokedToken)) == 1


def test_each_authenticated_request_costs_one_query(app, client, user_headers):
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get("/user/me", headers=user_headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)

    assert len(statements) == 1, statements
    assert "revoked_tokens" in statements[0]


def test_password_change_returns_a_fresh_token_and_ends_the_others(client, user, fake_clock):
    other_session = login(client, *user)
    headers = login(client, *user)
    me = client.get("/user/me", headers=headers).json["data"]
    fake_clock.advance(1)

    response = client.put(
        f"/user/{me['id']}",
        json={"password": "a brand new password", "current_password": USER[1]},
        headers=headers,
    )

    assert response.status_code == 200
    assert set(response.json) == {"data", "access_token", "token_type", "expires_in"}
    assert response.json["token_type"] == "Bearer"
    assert client.get("/user/me", headers=bearer(response.json["access_token"])).status_code == 200
    assert client.get("/user/me", headers=headers).status_code == 401
    assert client.get("/user/me", headers=other_session).status_code == 401
    login(client, USER[0], "a brand new password")


def test_password_change_needs_the_current_password(client, user_headers):
    me = client.get("/user/me", headers=user_headers).json["data"]

    response = client.put(
        f"/user/{me['id']}", json={"password": "a brand new password"}, headers=user_headers
    )

    assert response.status_code == 403
    assert "access_token" not in response.json
    assert client.get("/user/me", headers=user_headers).status_code == 200


def test_admin_setting_anothers_password_gets_no_token(client, user_headers, admin_headers):
    me = client.get("/user/me", headers=user_headers).json["data"]

    response = client.put(
        f"/user/{me['id']}", json={"password": "set by the admin"}, headers=admin_headers
    )

    assert response.status_code == 200
    assert set(response.json) == {"data"}
    assert client.get("/user/me", headers=user_headers).status_code == 401
    assert client.get("/user/me", headers=admin_headers).status_code == 200


def test_demotion_takes_effect_on_the_next_request(client, admin_headers, user):
    create = {"username": "second@example.org", "password": "second admin pw", "admin": True}
    second_id = client.post("/user", json=create, headers=admin_headers).json["data"]["id"]
    second = login(client, "second@example.org", "second admin pw")
    assert client.get("/users", headers=second).status_code == 200

    client.put(f"/user/{second_id}", json={"admin": False}, headers=admin_headers)

    assert client.get("/users", headers=second).status_code == 403
    assert client.get("/user/me", headers=second).json["data"]["admin"] is False


def test_deletion_takes_effect_on_the_next_request(client, admin_headers, user_headers):
    me = client.get("/user/me", headers=user_headers).json["data"]

    assert client.delete(f"/user/{me['id']}", headers=admin_headers).status_code == 204

    response = client.get("/user/me", headers=user_headers)
    assert response.status_code == 401
    assert response.json["error"]["message"] == "token's user no longer exists"
    assert client.post("/auth/refresh", headers=user_headers).status_code == 401
