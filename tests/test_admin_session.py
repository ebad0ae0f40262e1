"""Admin sign-in, the session cookie and when it ends, and the security headers."""

import pytest
from admin_helpers import flashes, post_form, sign_in
from conftest import ADMIN, USER, csrf_token, login

from idm.models import User, db


def user_id(app, username):
    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.username == username))


def test_login_page_has_labelled_fields_and_says_where_you_are(client):
    page = client.get("/admin/login")
    assert page.status_code == 200
    assert "<title>Sign in · Admin · IDM</title>" in page.text
    for field in ("username", "password"):
        assert f'<label for="{field}">' in page.text
        assert f'id="{field}" name="{field}"' in page.text


def test_pages_need_a_session(client, admin):
    for path in ("/admin", "/admin/users/new", "/admin/password"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/admin/login"


def test_admin_signs_in_and_out(client, admin):
    response = sign_in(client, *ADMIN)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin"
    listing = client.get("/admin")
    assert listing.status_code == 200
    assert f"Signed in as {ADMIN[0]}." in flashes(listing.text)
    assert client.get("/admin/login").headers["Location"] == "/admin"

    assert client.get("/admin/logout").status_code == 405  # signing out is a POST
    signed_out = post_form(client, "/admin", "/admin/logout")
    assert signed_out.headers["Location"] == "/admin/login"
    assert client.get("/admin").status_code == 302


@pytest.mark.parametrize(
    ("username", "password", "status", "message"),
    [
        (ADMIN[0], "not the password", 403, "wrong username or password"),
        ("nobody@example.org", ADMIN[1], 403, "wrong username or password"),
        (USER[0], USER[1], 403, "admin rights required"),
        (ADMIN[0], ADMIN[1] + "\x00", 403, "wrong username or password"),
    ],
)
def test_only_admins_with_the_right_password_sign_in(
    client, user, username, password, status, message
):
    response = sign_in(client, username, password)
    assert response.status_code == status
    assert message in flashes(response.text)
    assert f'value="{username.strip()}"' in response.text  # the username is kept
    assert client.get("/admin").status_code == 302


def test_session_cookie_is_httponly_and_samesite(client, admin):
    cookie = sign_in(client, *ADMIN).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain-HTTP development default
    assert "Expires=" in cookie  # permanent: PERMANENT_SESSION_LIFETIME


def test_session_cookie_is_secure_when_configured(app, client, admin):
    app.config["SESSION_COOKIE_SECURE"] = True
    assert "; Secure" in sign_in(client, *ADMIN).headers["Set-Cookie"]


def test_session_cookie_is_secure_over_https(app, client, admin):
    client = app.test_client()
    page = client.get("/admin/login", base_url="https://idm.example.org")
    form = {"csrf_token": csrf_token(page.text), "username": ADMIN[0], "password": ADMIN[1]}
    response = client.post("/admin/login", data=form, base_url="https://idm.example.org")

    assert response.status_code == 302
    assert "; Secure" in response.headers["Set-Cookie"]


def test_form_without_csrf_token_is_refused(client, admin):
    sign_in(client, *ADMIN)
    response = client.post(
        "/admin/users/new", data={"username": "x@example.org", "password": "p" * 12}
    )
    assert response.status_code == 400
    assert "CSRF token is missing" in response.text
    assert "text/html" in response.content_type


def session_ends_with(client, message):
    response = client.get("/admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login"
    assert f"Signed out: {message}. Sign in again." in flashes(client.get("/admin/login").text)
    assert client.get("/admin").status_code == 302  # and stays ended


def test_password_change_through_the_api_ends_the_session(client, admin):
    sign_in(client, *ADMIN)
    headers = login(client, *ADMIN)
    me = client.get("/user/me", headers=headers).json["data"]
    changed = client.put(
        f"/user/{me['id']}",
        json={"password": "a brand new password", "current_password": ADMIN[1]},
        headers=headers,
    )
    assert changed.status_code == 200
    session_ends_with(client, "your password was changed")


def sign_in_and_add_second_admin(client):
    """Sign in as the first admin and create a second one on the pages."""
    second = ("second@example.org", "second admin password")
    sign_in(client, *ADMIN)
    post_form(
        client,
        "/admin/users/new",
        "/admin/users/new",
        username=second[0],
        password=second[1],
        admin="1",
    )
    return second


def test_demotion_ends_the_session(app, client, user):
    second = sign_in_and_add_second_admin(client)
    other = app.test_client()
    sign_in(other, *second)
    headers = login(client, *second)
    demoted = client.put(f"/user/{user_id(app, ADMIN[0])}", json={"admin": False}, headers=headers)
    assert demoted.status_code == 200
    session_ends_with(client, "you are no longer an admin")
    assert other.get("/admin").status_code == 200


def test_deletion_ends_the_session(app, client, admin):
    second = sign_in_and_add_second_admin(client)
    headers = login(client, *second)
    assert client.delete("/user", json={"username": ADMIN[0]}, headers=headers).status_code == 204
    session_ends_with(client, "your session has ended")


def test_session_lifetime_counts_from_sign_in(app, client, admin, fake_clock):
    sign_in(client, *ADMIN)
    lifetime = app.permanent_session_lifetime.total_seconds()
    # Busy all along, a page every 20 minutes: never idle...
    views = int(lifetime // 1200) - 1
    for _ in range(views):
        fake_clock.advance(1200)
        assert client.get("/admin").status_code == 200
    fake_clock.advance(lifetime - views * 1200 + 5)
    session_ends_with(client, "your session expired")  # ...and still it ends on time


def test_a_tampered_cookie_is_no_session(app, client, admin):
    sign_in(client, *ADMIN)
    cookie = client.get_cookie("session")
    client.set_cookie("session", cookie.value[:-2] + "xx")
    assert client.get("/admin").status_code == 302
