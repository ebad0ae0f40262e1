"""A user's page in the admin console, and what it does: set the password,
sign out everywhere, revoke one's own admin rights after a confirmation.

Each action is the JSON API's (the same idm/users.py function), so the rows
it leaves in the audit log and its messages are compared with the API's.
"""

import re

import pytest
from admin_helpers import flashes, post_form, sign_in
from conftest import ADMIN, UNKNOWN_ID, USER, json_error, login
from test_admin_audit import cells, recorded
from test_sign_in import session_ends_with

from idm.models import User, db

PASSWORD = "set by an admin 1"


@pytest.fixture
def signed_in(client, user):
    sign_in(client, *ADMIN)
    return client


def find(app, username):
    with app.app_context():
        return db.session.scalar(db.select(User).where(User.username == username))


def facts(html):
    """The page's facts as {term: text}."""
    pairs = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html, re.S)
    return {term: " ".join(re.sub(r"<[^>]+>", "", text).split()) for term, text in pairs}


def user_browser(app):
    """The plain user, signed in to the pages in a browser of their own."""
    browser = app.test_client()
    sign_in(browser, *USER)
    return browser


# --- The page -------------------------------------------------------------------


def test_the_page_shows_the_account(app, client, signed_in):
    user_browser(app)
    client.post("/auth", json={"username": USER[0], "password": "a wrong guess"})
    target = find(app, USER[0])

    page = signed_in.get(f"/admin/users/{target.id}")

    assert page.status_code == 200
    assert f"<title>{USER[0]} · Admin · IDM</title>" in page.text
    shown = facts(page.text)
    assert shown["Admin"] == "no"
    assert shown["Last sign-in (UTC)"] != "never"  # the browser above signed in
    assert shown["Failed logins"] == "1 within 1 hour, not locked"
    assert "1 signed-in browser on these pages" in page.text
    events = cells(page.text)
    assert [event["Action"] for event in events] == ["login", "login", "user.create"]
    assert [event["Outcome"] for event in events] == ["Failed", "OK", "OK"]
    # The list links to it.
    assert f'<a href="/admin/users/{target.id}">{USER[0]}</a>' in signed_in.get("/admin").text


def test_the_page_shows_a_locked_account(app, client, signed_in):
    for _ in range(5):
        client.post("/auth", json={"username": USER[0], "password": "a wrong guess"})

    page = signed_in.get(f"/admin/users/{find(app, USER[0]).id}")

    assert 'class="badge locked"' in page.text
    assert re.fullmatch(
        r"5 within 1 hour: locked for \d+ seconds? more", facts(page.text)["Failed logins"]
    )
    assert ">Unlock<" in page.text


def test_the_page_links_to_the_whole_log_when_it_shows_a_part(app, client, signed_in):
    for _ in range(12):
        client.post("/auth", json={"username": USER[0], "password": USER[1]})
    target = find(app, USER[0])

    page = signed_in.get(f"/admin/users/{target.id}")

    assert len(cells(page.text)) == 10
    assert "10 of 13 events where" in page.text
    assert f'href="/admin/audit?user={target.id}">All of them in the audit log</a>' in page.text


@pytest.mark.parametrize("user_id", [UNKNOWN_ID, "not-a-uuid", "a%00b"])
def test_an_unknown_user_is_a_404_page(signed_in, user_id):
    page = signed_in.get(f"/admin/users/{user_id}")
    assert page.status_code == 404 and "no such user" in page.text


def test_actions_on_the_page_return_to_it(app, signed_in):
    target = find(app, USER[0]).id
    for action, fields in (("unlock", {}), ("reset-link", {}), ("admin", {"admin": "true"})):
        response = post_form(
            signed_in, "/admin", f"/admin/users/{target}/{action}", back="user", **fields
        )
        assert response.headers["Location"] == f"/admin/users/{target}"


def test_deleting_from_the_page_returns_to_the_list(app, signed_in):
    target = find(app, USER[0]).id
    confirm = signed_in.get(f"/admin/users/{target}/delete?back=user")
    assert f'<a href="/admin/users/{target}">Cancel</a>' in confirm.text
    assert '<input type="hidden" name="back" value="user">' in confirm.text

    response = post_form(signed_in, "/admin", f"/admin/users/{target}/delete", back="user")

    assert response.headers["Location"] == "/admin"


# --- Setting another user's password ----------------------------------------------


def set_password(client, user_id, password, again=None):
    path = f"/admin/users/{user_id}/password"
    return post_form(
        client, path, path, password=password, password2=password if again is None else again
    )


def test_an_admin_sets_a_users_password(app, client, signed_in):
    browser = user_browser(app)
    old_token = login(client, *USER)
    target = find(app, USER[0]).id
    form = signed_in.get(f"/admin/users/{target}/password")
    assert form.status_code == 200
    assert 'name="current_password"' not in form.text  # an admin does not know it

    response = set_password(signed_in, target, PASSWORD)

    assert response.headers["Location"] == f"/admin/users/{target}"
    assert f"Set a new password for {USER[0]}; their sessions and tokens ended." in flashes(
        signed_in.get(response.headers["Location"]).text
    )
    login(client, USER[0], PASSWORD)
    assert client.post("/auth", json={"username": USER[0], "password": USER[1]}).status_code == 401
    assert client.get("/user/me", headers=old_token).status_code == 401
    session_ends_with(browser, "your password was changed", "/account")


@pytest.mark.parametrize(
    ("password", "again", "status", "message"),
    [
        (PASSWORD, "something else 1", 400, "the two passwords do not match"),
        ("x1y2z", None, 400, "password must be at least 8 characters"),
        ("password123", None, 400, "password is too common; choose another"),
    ],
)
def test_setting_a_password_keeps_the_apis_rules(
    app, client, signed_in, admin_headers, password, again, status, message
):
    target = find(app, USER[0]).id
    if again is None:  # the API has no second field; its rules are the rest
        api = client.put(f"/user/{target}", json={"password": password}, headers=admin_headers)
        assert json_error(api, status) == message

    page = set_password(signed_in, target, password, again)

    assert page.status_code == status
    assert message in flashes(page.text)
    assert password not in page.text
    login(client, *USER)  # unchanged


def test_setting_a_password_is_recorded_as_by_the_api(app, client, signed_in, admin_headers):
    target = find(app, USER[0]).id
    api_rows = recorded(
        app,
        lambda: client.put(f"/user/{target}", json={"password": PASSWORD}, headers=admin_headers),
        USER[0],
    )
    page_rows = recorded(app, lambda: set_password(signed_in, target, "set on the page 1"), USER[0])

    assert page_rows == api_rows == [page_rows[0]]
    assert page_rows[0][:4] == ("user.update", "ok", "admin", "target")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_ones_own_password_is_changed_where_the_current_one_is_asked(app, signed_in, method):
    me = find(app, ADMIN[0]).id
    path = f"/admin/users/{me}/password"
    if method == "GET":
        response = signed_in.get(path)
    else:
        response = post_form(signed_in, "/admin", path, password=PASSWORD, password2=PASSWORD)

    assert response.status_code == 303
    assert response.headers["Location"] == "/password"
    login(signed_in, *ADMIN)  # unchanged: that page asks for the current password


# --- Signing a user out everywhere -------------------------------------------------


def test_an_admin_signs_a_user_out_everywhere(app, client, signed_in):
    browser = user_browser(app)
    token = login(client, *USER)
    target = find(app, USER[0]).id

    response = post_form(signed_in, "/admin", f"/admin/users/{target}/logout")

    assert response.headers["Location"] == f"/admin/users/{target}"
    page = signed_in.get(response.headers["Location"])
    assert f"Signed {USER[0]} out everywhere: every token and session ended." in flashes(page.text)
    assert "is not signed in to these pages anywhere" in page.text
    assert client.get("/user/me", headers=token).status_code == 401
    session_ends_with(browser, "you were signed out everywhere", "/account")
    login(client, *USER)  # the password stays


def test_signing_out_everywhere_is_recorded_as_by_the_api(app, client, signed_in, admin_headers):
    target = find(app, USER[0]).id
    api_rows = recorded(
        app, lambda: client.post(f"/user/{target}/logout", headers=admin_headers), USER[0]
    )
    page_rows = recorded(
        app, lambda: post_form(signed_in, "/admin", f"/admin/users/{target}/logout"), USER[0]
    )

    assert page_rows == api_rows
    assert [row[:4] for row in page_rows] == [("logout", "ok", "admin", "target")]


def test_the_api_signs_a_user_out_everywhere(app, client, user, admin_headers):
    browser = user_browser(app)
    token = login(client, *USER)
    target = find(app, USER[0]).id

    assert client.post(f"/user/{target}/logout", headers=admin_headers).status_code == 204

    assert client.get("/user/me", headers=token).status_code == 401
    session_ends_with(browser, "you were signed out everywhere", "/account")


def test_only_admins_sign_others_out(app, client, user, admin_headers, user_headers):
    admin_id = find(app, ADMIN[0]).id
    json_error(client.post(f"/user/{admin_id}/logout", headers=user_headers), 403)
    json_error(client.post(f"/user/{admin_id}/logout"), 401)
    json_error(client.post(f"/user/{UNKNOWN_ID}/logout", headers=admin_headers), 404)
    assert client.get("/user/me", headers=admin_headers).status_code == 200


def test_signing_oneself_out_everywhere_ends_this_session_too(app, signed_in):
    me = find(app, ADMIN[0]).id
    response = post_form(signed_in, "/admin", f"/admin/users/{me}/logout")
    assert response.headers["Location"] == f"/admin/users/{me}"
    session_ends_with(signed_in, "you were signed out everywhere", response.headers["Location"])


# --- Revoking one's own admin rights ------------------------------------------------


@pytest.fixture
def second_admin(app, signed_in):
    """Another admin, so that the signed-in one may lose the rights."""
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == USER[0]))
        user.admin = True
        db.session.commit()


def test_the_list_asks_before_an_admin_revokes_their_own_rights(app, signed_in, second_admin):
    me, other = find(app, ADMIN[0]).id, find(app, USER[0]).id
    listing = signed_in.get("/admin?search=example")
    # Their own row links to a question; another admin's row has the button.
    link = f'href="/admin/users/{me}/admin?search=example"'
    assert link in listing.text
    assert f'action="/admin/users/{other}/admin"' in listing.text
    assert f'action="/admin/users/{me}/admin"' not in listing.text

    question = signed_in.get(f"/admin/users/{me}/admin?search=example")

    assert question.status_code == 200
    assert "Revoke your own admin rights?" in question.text
    assert '<a href="/admin?search=example">Cancel</a>' in question.text
    assert find(app, ADMIN[0]).admin is True  # asking changes nothing


def test_a_post_without_the_confirmation_is_sent_to_the_question(app, signed_in, second_admin):
    me = find(app, ADMIN[0]).id
    response = post_form(signed_in, "/admin", f"/admin/users/{me}/admin", admin="false", page="2")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/users/{me}/admin?page=2"
    assert find(app, ADMIN[0]).admin is True


def test_confirmed_the_admin_goes_on_as_a_plain_user(app, client, signed_in, second_admin):
    other = app.test_client()
    sign_in(other, *ADMIN)
    me = find(app, ADMIN[0]).id

    response = post_form(
        signed_in, "/admin", f"/admin/users/{me}/admin", admin="false", confirmed="yes"
    )

    assert response.headers["Location"] == "/account"
    page = signed_in.get("/account")
    assert "You are no longer an admin. Your other sessions are signed out." in flashes(page.text)
    assert signed_in.get("/admin").status_code == 403
    assert find(app, ADMIN[0]).admin is False
    session_ends_with(other, "you are no longer an admin", "/account")


def test_the_last_admin_keeps_the_rights_even_confirmed(app, signed_in):
    me = find(app, ADMIN[0]).id
    response = post_form(
        signed_in, "/admin", f"/admin/users/{me}/admin", admin="false", confirmed="yes", back="user"
    )
    assert response.headers["Location"] == f"/admin/users/{me}"
    page = signed_in.get(response.headers["Location"])
    assert "cannot remove the last admin; make another user admin first" in flashes(page.text)
    assert find(app, ADMIN[0]).admin is True


def test_another_admins_rights_are_revoked_at_once(app, signed_in, second_admin):
    other = find(app, USER[0]).id
    response = post_form(signed_in, "/admin", f"/admin/users/{other}/admin", admin="false")
    assert response.headers["Location"] == "/admin"
    assert find(app, USER[0]).admin is False
