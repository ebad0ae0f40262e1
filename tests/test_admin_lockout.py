"""The "locked" badge on the users list, by the lockout's own rule, and Unlock."""

import contextlib
import re

import pytest
from admin_helpers import flashes, post_form, sign_in
from conftest import ADMIN, USER, csrf_token
from sqlalchemy import event

from idm.models import AuditEvent, User, db
from idm.users import create_user

WRONG = "not the password"


@pytest.fixture
def signed_in(client, user):
    sign_in(client, *ADMIN)
    return client


def fail_logins(client, username, times=5):
    for _ in range(times):
        client.post("/auth", json={"username": username, "password": WRONG})


def locked_rows(html):
    """Usernames of the rows that carry the "locked" badge."""
    rows = re.findall(r'<th scope="row" class="name">(.*?)</th>', html, re.S)
    return [
        re.search(r">([^<]+)</a>", row).group(1) for row in rows if 'class="badge locked"' in row
    ]


def unlock_buttons(html):
    return re.findall(
        r'<button type="submit" class="secondary">Unlock<span[^>]*> ([^<]+)</span>', html
    )


def user_id(app, username):
    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.username == username))


def may_log_in(client, username, password):
    response = client.post("/auth", json={"username": username, "password": password})
    assert response.status_code in (200, 429), response.json
    return response.status_code == 200


def newest_audit_row(app):
    with app.app_context():
        event = db.session.scalar(db.select(AuditEvent).order_by(AuditEvent.id.desc()))
        return event.to_json()


@contextlib.contextmanager
def counting_queries(app):
    statements = []

    def count(*_args):
        statements.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_locked_account_has_the_badge(signed_in):
    assert locked_rows(signed_in.get("/admin").text) == []

    fail_logins(signed_in, USER[0])

    assert locked_rows(signed_in.get("/admin").text) == [USER[0]]


def test_failures_below_the_threshold_are_no_lock(signed_in):
    fail_logins(signed_in, USER[0], times=4)

    assert locked_rows(signed_in.get("/admin").text) == []


def test_the_badge_goes_when_the_lock_ends(signed_in, fake_clock):
    fail_logins(signed_in, USER[0])
    fake_clock.advance(29)
    assert locked_rows(signed_in.get("/admin").text) == [USER[0]]

    fake_clock.advance(1)  # IDM_LOCKOUT_DELAY has passed since the newest failure

    assert locked_rows(signed_in.get("/admin").text) == []
    # The rule is the one POST /auth applies: the user may log in again.
    assert (
        signed_in.post("/auth", json={"username": USER[0], "password": USER[1]}).status_code == 200
    )


def test_the_badge_follows_the_growing_wait(signed_in, fake_clock):
    fail_logins(signed_in, USER[0])
    fake_clock.advance(30)
    fail_logins(signed_in, USER[0], times=1)  # one more failure: the next wait is 60 s
    fake_clock.advance(59)

    assert locked_rows(signed_in.get("/admin").text) == [USER[0]]


def test_a_locked_address_is_no_account_lock(app, signed_in):
    app.config["IDM_LOGIN_IP_THRESHOLD"] = 3
    for number in range(3):
        fail_logins(signed_in, f"guess{number}@example.org", times=1)

    assert locked_rows(signed_in.get("/admin").text) == []


def test_the_list_takes_as_many_queries_for_12_locked_users_as_for_1(app, signed_in):
    app.config["IDM_LOGIN_IP_THRESHOLD"] = 1000  # all the failures come from this address
    fail_logins(signed_in, USER[0])
    with counting_queries(app) as few:
        signed_in.get("/admin")
    with app.app_context():
        for number in range(10):
            create_user(f"bulk{number}@example.org", "bulk password 1")
    for number in range(10):
        fail_logins(signed_in, f"bulk{number}@example.org")

    with counting_queries(app) as many:
        page = signed_in.get("/admin")

    assert len(locked_rows(page.text)) == 11
    assert len(many) == len(few)


def test_unlock_button_only_for_locked_users(signed_in):
    assert unlock_buttons(signed_in.get("/admin").text) == []
    fail_logins(signed_in, USER[0])

    assert unlock_buttons(signed_in.get("/admin").text) == [USER[0]]


def test_unlock_ends_the_lock_and_returns_to_the_list(app, signed_in):
    fail_logins(signed_in, USER[0])
    assert not may_log_in(signed_in, *USER)
    target = user_id(app, USER[0])

    response = post_form(
        signed_in, "/admin", f"/admin/users/{target}/unlock", search="user", page="2"
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin?search=user&page=2"
    page = signed_in.get("/admin")
    assert f"Unlocked {USER[0]}." in flashes(page.text)
    assert locked_rows(page.text) == [] and unlock_buttons(page.text) == []
    assert may_log_in(signed_in, *USER)


def test_unlock_is_audited_as_the_api_audits_it(app, client, signed_in, admin_headers):
    target = user_id(app, USER[0])
    fail_logins(client, USER[0])
    assert client.post(f"/user/{target}/unlock", headers=admin_headers).status_code == 204
    by_api = newest_audit_row(app)
    fail_logins(client, USER[0])

    post_form(signed_in, "/admin", f"/admin/users/{target}/unlock")

    by_page = newest_audit_row(app)
    assert by_page["action"] == by_api["action"] == "unlock"
    different = {"id", "at"}
    assert {k: v for k, v in by_page.items() if k not in different} == {
        k: v for k, v in by_api.items() if k not in different
    }
    assert by_page["actor"] == user_id(app, ADMIN[0])
    assert (by_page["target"], by_page["target_username"]) == (target, USER[0])


def test_unlock_needs_an_admin_session(app, client, user):
    fail_logins(client, USER[0])
    token = csrf_token(client.get("/login").text)

    response = client.post(
        f"/admin/users/{user_id(app, USER[0])}/unlock", data={"csrf_token": token}
    )

    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not may_log_in(client, *USER)


def test_unlock_ends_with_a_demoted_admins_session(app, client, user, admin_headers):
    second = ("second@example.org", "second admin password")
    client.post(
        "/user",
        json={"username": second[0], "password": second[1], "admin": True},
        headers=admin_headers,
    )
    sign_in(client, *second)
    fail_logins(client, USER[0])
    token = csrf_token(client.get("/admin").text)
    second_id = user_id(app, second[0])
    client.put(f"/user/{second_id}", json={"admin": False}, headers=admin_headers)

    response = client.post(
        f"/admin/users/{user_id(app, USER[0])}/unlock", data={"csrf_token": token}
    )

    assert response.headers["Location"] == "/login"
    assert not may_log_in(client, *USER)


def test_unlock_without_csrf_token_is_refused(app, signed_in):
    fail_logins(signed_in, USER[0])

    response = signed_in.post(f"/admin/users/{user_id(app, USER[0])}/unlock")

    assert response.status_code == 400
    assert "The CSRF token is missing." in flashes(response.text)
    assert not may_log_in(signed_in, *USER)


def test_unlock_of_an_unknown_user_is_404(signed_in):
    response = post_form(signed_in, "/admin", "/admin/users/no-such-id/unlock")

    assert response.status_code == 404
    assert "no such user" in response.text
    assert signed_in.get("/admin/users/no-such-id/unlock").status_code == 405
