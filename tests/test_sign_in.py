"""Signing in to the pages (any user), the session cookie and when it ends,
what a plain user may open, and the old addresses of the admin-only sign-in."""

import re

import pytest
from admin_helpers import flashes, post_form, sign_in
from conftest import ADMIN, USER, csrf_token, login

from idm.models import User, db
from idm.sessions import WANTED

ADMIN_PAGES = [
    "/admin",
    "/admin/users/new",
    "/admin/audit",
    "/admin/users/{user}",
    "/admin/users/{user}/password",
    "/admin/users/{user}/delete",
    "/admin/users/{user}/admin",
]


def user_id(app, username):
    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.username == username))


def nav_links(html):
    nav = re.search(r'<nav class="admin-nav".*?</nav>', html, re.S).group(0)
    return [text.strip() for text in re.findall(r"<a [^>]*>([^<]+)</a>", nav)]


def test_login_page_has_labelled_fields_and_says_where_you_are(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert "<title>Sign in · IDM</title>" in page.text
    for field in ("username", "password"):
        assert f'<label for="{field}">' in page.text
        assert f'id="{field}" name="{field}"' in page.text


@pytest.mark.parametrize(
    "path", ["/admin", "/admin/users/new", "/admin/audit", "/account", "/password"]
)
def test_pages_need_a_session(client, admin, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_admin_signs_in_and_out(client, admin):
    response = sign_in(client, *ADMIN)
    assert response.status_code == 302
    assert response.headers["Location"] == "/subjects"  # everyone starts at the study's work
    listing = client.get("/subjects")
    assert listing.status_code == 200
    assert f"Signed in as {ADMIN[0]}." in flashes(listing.text)
    assert nav_links(listing.text) == [
        "Subjects",
        "Users",
        "New user",
        "Audit log",
        "My account",
        "My password",
    ]
    assert client.get("/login").headers["Location"] == "/subjects"

    assert client.get("/logout").status_code == 405  # signing out is a POST
    signed_out = post_form(client, "/admin", "/logout")
    assert signed_out.headers["Location"] == "/login"
    assert client.get("/admin").status_code == 302


def test_a_plain_user_signs_in_to_the_subjects_and_their_account_page(app, client, user):
    response = sign_in(client, *USER)
    assert response.status_code == 302
    assert response.headers["Location"] == "/subjects"
    assert f"Signed in as {USER[0]}." in flashes(client.get("/subjects").text)
    page = client.get("/account")
    assert page.status_code == 200
    assert "<title>My account · IDM</title>" in page.text
    assert f"<dd>{USER[0]}</dd>" in page.text and "<dd>User</dd>" in page.text
    # Only what they may open: no user management, no audit log.
    assert nav_links(page.text) == ["Subjects", "My account", "My password"]
    assert "/admin" not in page.text
    assert client.get("/login").headers["Location"] == "/subjects"


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_plain_user_gets_a_403_page_on_admin_pages(app, client, user, path):
    sign_in(client, *USER)
    page = client.get(path.format(user=user_id(app, ADMIN[0])))
    assert page.status_code == 403
    assert page.mimetype == "text/html"
    assert "admin rights required" in flashes(page.text)
    assert f"You are signed in as {USER[0]}." in page.text
    assert '<a href="/subjects">Back to the subjects list</a>' in page.text
    assert nav_links(page.text) == ["Subjects", "My account", "My password"]
    assert client.get("/account").status_code == 200  # still signed in: no loop


@pytest.mark.parametrize(
    ("action", "fields"),
    [("delete", {}), ("admin", {"admin": "false"}), ("logout", {}), ("unlock", {})],
)
def test_a_plain_user_cannot_post_admin_forms(app, client, user, action, fields):
    sign_in(client, *USER)
    target = user_id(app, ADMIN[0])
    response = post_form(client, "/account", f"/admin/users/{target}/{action}", **fields)
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(User, target).admin is True
    assert client.get("/account").status_code == 200  # nothing ended


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        (ADMIN[0], "not the password", "wrong username or password"),
        ("nobody@example.org", ADMIN[1], "wrong username or password"),
        (USER[0], "not the password", "wrong username or password"),
        (ADMIN[0], ADMIN[1] + "\x00", "wrong username or password"),
    ],
)
def test_only_the_right_password_signs_in(client, user, username, password, message):
    response = sign_in(client, username, password)
    assert response.status_code == 403
    assert message in flashes(response.text)
    assert f'value="{username.strip()}"' in response.text  # the username is kept
    assert client.get("/account").status_code == 302


def test_sign_in_returns_to_the_page_asked_for(client, admin):
    assert client.get("/admin/audit?action=login").headers["Location"] == "/login"
    response = sign_in(client, *ADMIN)
    assert response.headers["Location"] == "/admin/audit?action=login"
    post_form(client, "/admin", "/logout")
    # Once used, it is gone: the next sign-in lands as usual.
    assert sign_in(client, *ADMIN).headers["Location"] == "/subjects"


def test_a_very_long_address_is_not_kept_for_after_sign_in(client, admin):
    client.get("/admin?search=" + "x" * 1000)
    assert sign_in(client, *ADMIN).headers["Location"] == "/subjects"


@pytest.mark.parametrize("planted", ["//evil.example/x", "/\\evil.example", "https://evil.example"])
def test_sign_in_never_returns_to_another_site(client, admin, planted):
    client.get("/login")
    with client.session_transaction() as session:
        session[WANTED] = planted
    assert sign_in(client, *ADMIN).headers["Location"] == "/subjects"


@pytest.mark.parametrize(
    ("method", "old", "new"),
    [
        ("GET", "/admin/login", "/login"),
        ("POST", "/admin/login", "/login"),
        ("POST", "/admin/logout", "/logout"),
        ("GET", "/admin/password", "/password"),
        ("POST", "/admin/password", "/password"),
    ],
)
def test_the_old_addresses_lead_to_the_new_pages(client, method, old, new):
    # A form from a page opened before the move carries its CSRF token.
    form = {"csrf_token": csrf_token(client.get("/login").text)} if method == "POST" else None
    response = client.open(old, method=method, data=form)
    # 308: a browser repeats the same method with the same form at the new
    # address (tests/test_account_browser.py posts a sign-in that way).
    assert response.status_code == 308
    assert response.headers["Location"] == new


def test_session_cookie_is_httponly_and_samesite(client, admin):
    cookie = sign_in(client, *ADMIN).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain-HTTP development default
    assert "Expires=" in cookie  # permanent: PERMANENT_SESSION_LIFETIME


def test_session_cookie_is_secure_when_configured(app, client, user):
    app.config["SESSION_COOKIE_SECURE"] = True
    assert "; Secure" in sign_in(client, *USER).headers["Set-Cookie"]


def test_session_cookie_is_secure_over_https(app, client, user):
    client = app.test_client()
    page = client.get("/login", base_url="https://idm.example.org")
    form = {"csrf_token": csrf_token(page.text), "username": USER[0], "password": USER[1]}
    response = client.post("/login", data=form, base_url="https://idm.example.org")

    assert response.status_code == 302
    assert "; Secure" in response.headers["Set-Cookie"]


def test_form_without_csrf_token_is_refused(client, user):
    sign_in(client, *USER)
    response = client.post(
        "/password", data={"current_password": USER[1], "password": "p" * 12, "password2": "p" * 12}
    )
    assert response.status_code == 400
    assert "CSRF token is missing" in response.text
    assert "text/html" in response.content_type
    login(client, *USER)  # unchanged


def session_ends_with(client, message, path="/admin"):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert f"Signed out: {message}. Sign in again." in flashes(client.get("/login").text)
    assert client.get(path).status_code == 302  # and stays ended


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


def test_a_plain_users_session_ends_with_their_password_too(app, client, user):
    sign_in(client, *USER)
    headers = login(client, *ADMIN)
    changed = client.put(
        f"/user/{user_id(app, USER[0])}", json={"password": "set by the admin"}, headers=headers
    )
    assert changed.status_code == 200
    session_ends_with(client, "your password was changed", "/account")


def test_a_plain_user_changes_their_own_password(app, client, user):
    sign_in(client, *USER)
    other = app.test_client()
    sign_in(other, *USER)
    form = {
        "current_password": USER[1],
        "password": "my next password",
        "password2": "my next password",
    }
    response = post_form(client, "/password", "/password", **form)
    assert response.headers["Location"] == "/subjects"
    assert client.get("/account").status_code == 200  # this browser stays signed in
    session_ends_with(other, "your password was changed", "/account")
    login(client, USER[0], "my next password")


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


def test_demotion_ends_the_session_and_the_admin_pages(app, client, user):
    second = sign_in_and_add_second_admin(client)
    other = app.test_client()
    sign_in(other, *second)
    headers = login(client, *second)
    demoted = client.put(f"/user/{user_id(app, ADMIN[0])}", json={"admin": False}, headers=headers)
    assert demoted.status_code == 200
    session_ends_with(client, "you are no longer an admin")
    assert other.get("/admin").status_code == 200
    # Signing in again works, back to the page they were on, which is no
    # longer theirs to open: they are a plain user now.
    assert sign_in(client, *ADMIN).headers["Location"] == "/admin"
    assert client.get("/admin").status_code == 403
    assert client.get("/account").status_code == 200


def test_promotion_opens_the_admin_pages_at_the_next_click(app, client, user):
    sign_in(client, *USER)
    assert client.get("/admin").status_code == 403
    headers = login(client, *ADMIN)
    promoted = client.put(f"/user/{user_id(app, USER[0])}", json={"admin": True}, headers=headers)
    assert promoted.status_code == 200
    assert client.get("/admin").status_code == 200  # the rights are read at each view


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
