"""Proving the current password before changing it is a login attempt.

A stolen token must not be a way to guess its owner's password at the speed
of the hash: wrong confirmations count against the same per-account and
per-address lockout as POST /auth, a locked confirmation is refused with
429 before any hashing, and every failure is in the audit log.
"""

import pytest
from admin_helpers import flashes, post_form, sign_in
from conftest import ADMIN, USER, json_error, login
from werkzeug import security

import idm.users
from idm.models import AuditEvent, db

WRONG = "not my password"
THRESHOLD = 5  # IDM_LOGIN_ACCOUNT_THRESHOLD in defaults.py


@pytest.fixture
def hash_checks(monkeypatch):
    """Counts password hash checks (the real function still runs)."""
    calls = []

    def counting(stored, password):
        calls.append(stored)
        return security.check_password_hash(stored, password)

    monkeypatch.setattr(idm.users, "check_password_hash", counting)
    return calls


def confirm(client, user_id, headers, current, ip="127.0.0.1"):
    """PUT /user/<id> with a new password and *current* as the proof."""
    body = {"password": "my next password", "current_password": current}
    return client.put(
        f"/user/{user_id}", json=body, headers=headers, environ_base={"REMOTE_ADDR": ip}
    )


def test_wrong_confirmations_lock_the_account_like_failed_logins(client, ids, user_headers):
    for _ in range(THRESHOLD):
        json_error(confirm(client, ids["user"], user_headers, WRONG), 403)

    locked = confirm(client, ids["user"], user_headers, USER[1])
    message = json_error(locked, 429)
    assert "try again in 30 seconds" in message
    assert locked.headers["Retry-After"] == "30"
    # The same lock as POST /auth: the right password does not get in either.
    response = client.post("/auth", json={"username": USER[0], "password": USER[1]})
    assert response.status_code == 429


def test_failed_logins_lock_the_confirmation_too(client, ids, user_headers):
    for _ in range(THRESHOLD):
        client.post("/auth", json={"username": USER[0], "password": WRONG})

    json_error(confirm(client, ids["user"], user_headers, USER[1]), 429)


def test_a_locked_confirmation_costs_no_hashing(client, ids, user_headers, hash_checks):
    for _ in range(THRESHOLD):
        confirm(client, ids["user"], user_headers, WRONG)
    assert len(hash_checks) == THRESHOLD

    for _ in range(3):
        json_error(confirm(client, ids["user"], user_headers, WRONG), 429)
    assert len(hash_checks) == THRESHOLD


def test_wrong_confirmations_count_against_the_address(make_app, user):
    client = make_app(IDM_LOGIN_IP_THRESHOLD=3).test_client()
    headers = login(client, *USER)
    user_id = client.get("/user/me", headers=headers).json["data"]["id"]
    for _ in range(3):
        json_error(confirm(client, user_id, headers, WRONG, ip="198.51.100.7"), 403)

    # Another account, from that address: locked; from elsewhere: fine.
    from_there = {"REMOTE_ADDR": "198.51.100.7"}
    credentials = {"username": ADMIN[0], "password": ADMIN[1]}
    assert client.post("/auth", json=credentials, environ_base=from_there).status_code == 429
    assert client.post("/auth", json=credentials).status_code == 200


def test_each_wrong_confirmation_is_audited(app, client, ids, user_headers):
    json_error(confirm(client, ids["user"], user_headers, WRONG), 403)

    with app.app_context():
        event = db.session.scalars(
            db.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        ).first()
    assert (event.action, event.outcome) == ("password.confirm", "failed")
    assert event.actor_id == event.target_id == ids["user"]


def test_a_right_confirmation_clears_the_accounts_failures(client, ids, user_headers):
    for _ in range(THRESHOLD - 1):
        confirm(client, ids["user"], user_headers, WRONG)

    changed = confirm(client, ids["user"], user_headers, USER[1])
    assert changed.status_code == 200

    client.post("/auth", json={"username": USER[0], "password": WRONG})
    assert login(client, USER[0], "my next password")  # not locked: the count started again


def test_a_missing_confirmation_is_refused_without_counting(client, ids, user_headers):
    for _ in range(THRESHOLD + 1):
        body = {"password": "my next password"}
        response = client.put(f"/user/{ids['user']}", json=body, headers=user_headers)
        assert "current_password is required" in json_error(response, 403)

    assert login(client, *USER)


def test_the_my_password_page_locks_as_well(app, client, admin):
    sign_in(client, *ADMIN)
    form = {"current_password": WRONG, "password": "a new password", "password2": "a new password"}
    for _ in range(THRESHOLD):
        response = post_form(client, "/password", "/password", **form)
        assert response.status_code == 403
        assert "current_password is wrong" in flashes(response.text)

    form["current_password"] = ADMIN[1]
    locked = post_form(client, "/password", "/password", **form)

    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "30"
    assert any("try again in 30 seconds" in text for text in flashes(locked.text))
    with app.app_context():
        actions = db.session.scalars(
            db.select(AuditEvent.outcome).where(AuditEvent.action == "password.confirm")
        ).all()
    assert actions == ["failed"] * THRESHOLD
