"""Brute-force protection: failed logins per account and per IP, growing waits, unlock."""

import pytest
from conftest import ADMIN, USER, csrf_token, login
from werkzeug import security

import idm.users

WRONG = "not the password"


def attempt(client, username, password=WRONG, ip="127.0.0.1"):
    return client.post(
        "/auth",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def fail(client, username, times, ip="127.0.0.1"):
    for _ in range(times):
        assert attempt(client, username, ip=ip).status_code == 401


@pytest.fixture
def hash_checks(monkeypatch):
    """Counts password hash checks (the real function still runs)."""
    calls = []

    def counting(stored, password):
        calls.append(stored)
        return security.check_password_hash(stored, password)

    monkeypatch.setattr(idm.users, "check_password_hash", counting)
    return calls


def test_fifth_failure_locks_the_account_with_429_and_retry_after(client, user):
    fail(client, USER[0], 5)

    response = attempt(client, USER[0], password=USER[1])

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert response.json["error"]["status"] == 429
    assert "try again in 30 seconds" in response.json["error"]["message"]


def test_a_locked_login_costs_no_password_hashing(client, user, hash_checks):
    fail(client, USER[0], 5)
    assert len(hash_checks) == 5

    assert attempt(client, USER[0]).status_code == 429
    assert attempt(client, "nobody@example.org").status_code == 401
    assert len(hash_checks) == 6


def test_unknown_accounts_lock_with_the_same_answer(client, user, fake_clock):
    fail(client, USER[0], 5)
    fail(client, "nobody@example.org", 5)

    real = attempt(client, USER[0])
    unknown = attempt(client, "nobody@example.org")

    assert real.status_code == unknown.status_code == 429
    assert real.headers["Retry-After"] == unknown.headers["Retry-After"]
    assert real.json == unknown.json


def test_the_account_is_counted_by_its_normalized_name(client, user):
    for spelling in ["USER@example.org", " user@EXAMPLE.org", "user@example.org"] * 2:
        attempt(client, spelling)

    assert attempt(client, USER[0], password=USER[1]).status_code == 429


def test_the_lock_ends_and_each_further_failure_doubles_the_wait(client, user, fake_clock):
    fail(client, USER[0], 5)
    waits = []
    for _ in range(7):
        wait = int(attempt(client, USER[0]).headers["Retry-After"])
        waits.append(wait)
        fake_clock.advance(wait)
        assert attempt(client, USER[0]).status_code == 401  # one more guess, then locked

    assert waits == [30, 60, 120, 240, 480, 900, 900]  # capped at IDM_LOCKOUT_MAX_DELAY
    fake_clock.advance(300)
    assert attempt(client, USER[0]).headers["Retry-After"] == "600"


def test_failures_outside_the_window_are_forgotten(client, user, fake_clock):
    fail(client, USER[0], 4)
    fake_clock.advance(3601)

    fail(client, USER[0], 4)

    login(client, *user)


def test_success_clears_the_account_counter(client, user):
    fail(client, USER[0], 4)
    login(client, *user)

    fail(client, USER[0], 4)

    login(client, *user)


def test_the_account_lock_holds_from_every_address(client, user):
    fail(client, USER[0], 5, ip="10.0.0.1")

    assert attempt(client, USER[0], USER[1], ip="10.0.0.2").status_code == 429


def test_failures_from_one_address_lock_that_address(app, client, user):
    app.config["IDM_LOGIN_IP_THRESHOLD"] = 6
    for number in range(6):
        assert attempt(client, f"guess{number}@example.org", ip="10.0.0.1").status_code == 401

    assert attempt(client, USER[0], USER[1], ip="10.0.0.1").status_code == 429
    assert attempt(client, USER[0], USER[1], ip="10.0.0.2").status_code == 200


def test_success_does_not_clear_the_address_counter(app, client, user):
    app.config["IDM_LOGIN_IP_THRESHOLD"] = 6
    fail(client, "guess@example.org", 3)
    login(client, *user)

    fail(client, "other@example.org", 3)

    assert attempt(client, USER[0], USER[1]).status_code == 429


def test_admin_unlocks_an_account(client, user, admin_headers):
    fail(client, USER[0], 5)
    user_id = client.get("/users?search=user@", headers=admin_headers).json["data"][0]["id"]

    response = client.post(f"/user/{user_id}/unlock", headers=admin_headers)

    assert response.status_code == 204
    login(client, *user)


def test_unlock_is_for_admins_only(client, user_headers, admin_headers):
    admin_id = client.get("/user/me", headers=admin_headers).json["data"]["id"]
    fail(client, ADMIN[0], 5)

    response = client.post(f"/user/{admin_id}/unlock", headers=user_headers)

    assert response.status_code == 403
    assert attempt(client, *ADMIN).status_code == 429


def test_unlock_of_an_unknown_user_is_404(client, admin_headers):
    response = client.post("/user/no-such-id/unlock", headers=admin_headers)
    assert response.status_code == 404
    assert response.json["error"]["message"] == "no such user"


def init_form(client, password="an admin password"):
    page = client.get("/init")
    form = {"csrf_token": csrf_token(page.text), "username": "first@example.org"}
    form.update(password=password, password2="a mismatch")
    return form


def test_init_posts_are_throttled_per_address(client, fake_clock):
    for _ in range(10):
        assert client.post("/init", data=init_form(client)).status_code == 400

    response = client.post("/init", data=init_form(client))

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert b"too many setup attempts" in response.data
    other = client.post("/init", data=init_form(client), environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 400
    fake_clock.advance(30)
    assert client.post("/init", data=init_form(client)).status_code == 400
