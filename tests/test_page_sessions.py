"""The pages' sessions live in the database: a copied cookie dies with the session.

In process, on SQLite and PostgreSQL; tests/test_page_sessions_live.py
repeats the copied-cookie story through gunicorn workers and two hosts.
"""

import hashlib

import pytest
from admin_helpers import flashes, post_form, sign_in
from conftest import ADMIN, UNKNOWN_ID, json_error, login
from test_sign_in import session_ends_with, sign_in_and_add_second_admin, user_id

from idm.models import AuditEvent, PageSession, db
from idm.sessions import SECRET

IDLE = 30 * 60  # IDM_SESSION_IDLE_TIMEOUT in defaults.py


def copy_of(app, client):
    """A second browser holding a copy of *client*'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def rows(app):
    with app.app_context():
        return db.session.scalars(db.select(PageSession)).all()


def cookie_secret(app, client):
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.loads(client.get_cookie("session").value)[SECRET]


def test_signing_out_ends_every_copy_of_the_cookie(app, client, admin):
    sign_in(client, *ADMIN)
    thief = copy_of(app, client)
    assert thief.get("/admin").status_code == 200  # a copy works while the session lives

    post_form(client, "/admin", "/logout")

    assert thief.get("/admin").status_code == 302
    assert rows(app) == []


def test_only_the_hash_of_the_cookies_secret_is_stored(app, client, admin):
    sign_in(client, *ADMIN)
    secret = cookie_secret(app, client)

    (row,) = rows(app)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert len(secret) >= 43  # 256 random bits, base64url
    with app.app_context():
        stored = db.session.execute(db.text("SELECT * FROM page_sessions")).one()
    assert secret not in [str(value) for value in stored]


def test_a_session_ends_after_the_idle_time(app, client, admin, fake_clock):
    sign_in(client, *ADMIN)
    for _ in range(3):
        fake_clock.advance(IDLE - 60)
        assert client.get("/admin").status_code == 200  # each view keeps it alive

    fake_clock.advance(IDLE)

    session_ends_with(client, "your session ended after 30 minutes without activity")
    assert rows(app) == []


def test_page_views_write_last_seen_at_most_once_a_minute(app, client, admin, fake_clock):
    sign_in(client, *ADMIN)
    (signed_in,) = rows(app)
    fake_clock.advance(30)
    client.get("/admin")
    assert rows(app)[0].last_seen == signed_in.last_seen
    fake_clock.advance(31)
    client.get("/admin")
    assert rows(app)[0].last_seen == fake_clock.moment


def test_promoting_again_revives_no_old_cookie(app, client, user):
    second = sign_in_and_add_second_admin(client)
    browser = app.test_client()
    sign_in(browser, *second)
    second_id = user_id(app, second[0])
    headers = login(client, *ADMIN)

    for admin in (False, True):
        response = client.put(f"/user/{second_id}", json={"admin": admin}, headers=headers)
        assert response.status_code == 200

    session_ends_with(browser, "you are no longer an admin")
    assert sign_in(browser, *second).status_code == 302  # signing in again works


def test_signing_out_everywhere_ends_the_pages_too(app, client, admin):
    sign_in(client, *ADMIN)
    headers = login(client, *ADMIN)

    assert client.post("/auth/logout?all=1", headers=headers).status_code == 204

    session_ends_with(client, "you were signed out everywhere")


def test_deleting_a_user_deletes_its_sessions(app, client, admin):
    second = sign_in_and_add_second_admin(client)
    sign_in(app.test_client(), *second)
    assert len(rows(app)) == 2
    headers = login(client, *ADMIN)

    assert client.delete("/user", json={"username": second[0]}, headers=headers).status_code == 204

    assert [row.user_id for row in rows(app)] == [user_id(app, ADMIN[0])]


def test_sessions_past_their_limits_are_pruned_at_sign_in(app, client, admin, fake_clock):
    for _ in range(3):
        sign_in(app.test_client(), *ADMIN)
    fake_clock.advance(IDLE + 1)

    sign_in(client, *ADMIN)

    assert len(rows(app)) == 1


def test_audit_prune_deletes_sessions_past_their_limits(app, client, admin, fake_clock, runner):
    sign_in(client, *ADMIN)
    sign_in(app.test_client(), *ADMIN)
    fake_clock.advance(IDLE + 1)

    result = runner.invoke(args=["audit", "prune"])

    assert result.exit_code == 0, result.output
    assert "2 ended page sessions" in result.output
    assert rows(app) == []


class TestAdminSeesAndEndsSessions:
    @pytest.fixture
    def browsers(self, app, admin):
        """Two browsers signed in as the admin."""
        pair = [app.test_client(), app.test_client()]
        for browser in pair:
            sign_in(browser, *ADMIN)
        return pair

    def test_the_api_lists_them_without_secrets(self, app, client, browsers, admin_headers):
        admin_id = user_id(app, ADMIN[0])
        response = client.get(f"/user/{admin_id}/sessions", headers=admin_headers)

        assert response.status_code == 200
        listed = response.json["data"]
        assert len(listed) == 2
        assert set(listed[0]) == {"id", "created", "last_seen", "expires", "ip", "user_agent"}
        secrets = [cookie_secret(app, browser) for browser in browsers]
        assert not any(secret in response.text for secret in secrets)

    def test_the_api_ends_one_and_then_all(self, app, client, browsers, admin_headers):
        admin_id = user_id(app, ADMIN[0])
        first, second = browsers
        listed = client.get(f"/user/{admin_id}/sessions", headers=admin_headers).json["data"]
        ids = {row.id: row.secret_hash for row in rows(app)}
        second_hash = hashlib.sha256(cookie_secret(app, second).encode()).hexdigest()
        (second_id,) = [id_ for id_, hash_ in ids.items() if hash_ == second_hash]
        assert second_id in {row["id"] for row in listed}

        path = f"/user/{admin_id}/sessions/{second_id}"
        assert client.delete(path, headers=admin_headers).status_code == 204
        json_error(client.delete(path, headers=admin_headers), 404)  # ended already

        session_ends_with(second, "an admin ended your session")
        assert first.get("/admin").status_code == 200

        sessions = f"/user/{admin_id}/sessions"
        assert client.delete(sessions, headers=admin_headers).status_code == 204
        assert first.get("/admin").status_code == 302
        assert client.get(sessions, headers=admin_headers).json["data"] == []
        with app.app_context():
            ends = db.session.scalar(
                db.select(db.func.count()).where(AuditEvent.action == "session.end")
            )
        assert ends == 2

    def test_only_admins_may(self, app, client, browsers, user_headers):
        admin_id = user_id(app, ADMIN[0])
        json_error(client.get(f"/user/{admin_id}/sessions", headers=user_headers), 403)
        json_error(client.delete(f"/user/{admin_id}/sessions", headers=user_headers), 403)
        json_error(client.get(f"/user/{admin_id}/sessions"), 401)

    @pytest.mark.parametrize("session_id", [UNKNOWN_ID, "not-a-uuid", "x%00y"])
    def test_unknown_sessions_and_users_are_404(self, app, client, admin_headers, session_id):
        admin_id = user_id(app, ADMIN[0])
        path = f"/user/{admin_id}/sessions/{session_id}"
        assert "no such session" in json_error(client.delete(path, headers=admin_headers), 404)
        json_error(client.get(f"/user/{UNKNOWN_ID}/sessions", headers=admin_headers), 404)

    def test_the_page_lists_them_and_ends_them(self, app, browsers, user):
        first, second = browsers
        target_id = user_id(app, ADMIN[0])
        old = first.get(f"/admin/users/{target_id}/sessions")  # the address it had
        assert old.status_code == 301
        assert old.headers["Location"] == f"/admin/users/{target_id}#sessions"
        page = first.get(f"/admin/users/{target_id}")
        assert page.status_code == 200
        assert "2 signed-in browsers" in page.text
        (row,) = [row for row in rows(app) if row.secret_hash == hash_of(app, second)]

        ended = post_form(
            first, "/admin", f"/admin/users/{target_id}/sessions/end", session_id=row.id
        )
        assert ended.headers["Location"] == f"/admin/users/{target_id}#sessions"
        assert "Signed admin@example.org out of that browser." in flashes(
            first.get(ended.headers["Location"]).text
        )
        session_ends_with(second, "an admin ended your session")

        post_form(first, "/admin", f"/admin/users/{target_id}/sessions/end")
        assert first.get("/admin").status_code == 302  # that was its own session too


def hash_of(app, browser):
    return hashlib.sha256(cookie_secret(app, browser).encode()).hexdigest()
