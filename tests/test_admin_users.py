"""Admin pages acting on users: each rule and message is the JSON API's."""

import re

import pytest
from admin_helpers import flashes, post_form, sign_in
from conftest import ADMIN, USER, login

from idm.models import User, db
from idm.users import create_user


@pytest.fixture
def signed_in(client, user):
    """A client signed in to the admin pages, next to a plain user."""
    sign_in(client, *ADMIN)
    return client


def find(app, username):
    with app.app_context():
        return db.session.scalar(db.select(User).where(User.username == username))


def rows(html):
    return re.findall(r'<th scope="row" class="name">\s*<a href="[^"]+">([^<]+)</a>', html)


def test_list_shows_users_with_badges_and_columns(signed_in):
    page = signed_in.get("/admin")
    assert page.status_code == 200
    assert "<title>Users · Admin · IDM</title>" in page.text
    assert rows(page.text) == [ADMIN[0], USER[0]]
    assert page.text.count('class="badge admin"') == 1
    assert page.text.count('class="badge you"') == 1
    assert "Created (UTC)" in page.text and "Last sign-in (UTC)" in page.text
    assert "never" in page.text  # the plain user never signed in
    assert 'aria-current="page">Users<' in page.text


def test_search_and_pagination(app, signed_in):
    app.config["IDM_USERS_PER_PAGE"] = 10
    with app.app_context():
        for number in range(23):
            create_user(f"bulk{number:02}@example.org", "bulk password 1")
    first = signed_in.get("/admin?search=BULK")
    assert len(rows(first.text)) == 10
    assert "23 users matching “BULK”" in first.text
    assert "Page 1 of 3" in first.text
    assert 'href="/admin?page=2&amp;search=BULK"' in first.text
    last = signed_in.get("/admin?search=bulk&page=3")
    assert rows(last.text) == ["bulk20@example.org", "bulk21@example.org", "bulk22@example.org"]
    assert "Page 3 of 3" in last.text and 'rel="next"' not in last.text
    none = signed_in.get("/admin?search=nobody")
    assert rows(none.text) == [] and "No users match “nobody”" in none.text


def options(html, select_id):
    select = re.search(rf'<select id="{select_id}".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="(\d+)"( selected)?>', select)


def test_page_size_is_chosen_and_kept_across_paging_and_search(app, signed_in):
    with app.app_context():
        for number in range(60):
            create_user(f"bulk{number:02}@example.org", "bulk password 1")
    page = signed_in.get("/admin?perpage=25&search=bulk")

    assert len(rows(page.text)) == 25
    assert "Page 1 of 3" in page.text
    sizes = options(page.text, "perpage")
    assert [size for size, _ in sizes] == ["10", "20", "25", "50", "100"]  # 20: the default
    assert [size for size, chosen in sizes if chosen] == ["25"]
    # Paging keeps size and search; searching keeps the size; choosing a size keeps the search.
    assert 'href="/admin?page=2&amp;search=bulk&amp;perpage=25"' in page.text
    search_form, size_form = re.findall(
        r'<form method="get" action="/admin".*?</form>', page.text, re.S
    )
    assert '<input type="hidden" name="perpage" value="25">' in search_form
    assert '<input type="hidden" name="search" value="bulk">' in size_form
    # So do the forms of the rows, and the links to a confirmation.
    assert page.text.count('<input type="hidden" name="perpage" value="25">') > 25
    assert "/delete?search=bulk&amp;perpage=25" in page.text

    last = signed_in.get("/admin?perpage=25&search=bulk&page=3")
    assert len(rows(last.text)) == 10


def test_the_default_page_size_stays_out_of_the_links(app, signed_in):
    page = signed_in.get("/admin?perpage=20")
    assert "perpage=" not in page.text
    assert [size for size, chosen in options(page.text, "perpage") if chosen] == ["20"]


def test_a_page_size_typed_by_hand_is_offered_as_chosen(signed_in):
    page = signed_in.get("/admin?perpage=7")
    assert [size for size, chosen in options(page.text, "perpage") if chosen] == ["7"]


def test_an_action_returns_to_the_list_with_its_page_size(app, signed_in):
    target = find(app, USER[0])
    response = post_form(
        signed_in, "/admin", f"/admin/users/{target.id}/unlock", search="user", perpage="50"
    )
    assert response.headers["Location"] == "/admin?search=user&perpage=50"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=0", "page must be at least 1"),
        ("page=two", "page must be a whole number"),
        ("page=" + "9" * 30, "page must be at most 1000000"),
        ("search=a%00b", "search must not contain NUL characters"),
        ("perpage=0", "perpage must be at least 1"),
        ("perpage=101", "perpage must be at most 100"),
        ("perpage=ten", "perpage must be a whole number"),
        ("perpage=" + "9" * 30, "perpage must be at most 100"),
    ],
)
def test_bad_page_number_is_a_clear_400(signed_in, query, message):
    response = signed_in.get("/admin?" + query)
    assert response.status_code == 400
    assert message in response.text


def test_create_user(app, signed_in):
    response = post_form(
        signed_in,
        "/admin/users/new",
        "/admin/users/new",
        username=" New@Example.org ",
        password="new user password",
        admin="1",
    )
    assert response.status_code == 302 and response.headers["Location"] == "/admin"
    assert "Created admin new@example.org." in flashes(signed_in.get("/admin").text)
    assert find(app, "new@example.org").admin is True
    login(signed_in, "new@example.org", "new user password")  # the password works


@pytest.mark.parametrize(
    ("username", "password", "status", "message"),
    [
        (USER[0], "some good password", 409, f"username {USER[0]} is already taken"),
        (
            "not-an-email",
            "some good password",
            400,
            "username must be an email address, like name@example.org:"
            " An email address must have an @-sign.",
        ),
        ("", "some good password", 400, "username is required"),
        ("short@example.org", "x1y2z", 400, "password must be at least 8 characters"),
        ("common@example.org", "password123", 400, "password is too common; choose another"),
    ],
)
def test_create_user_shows_the_api_message_and_keeps_values(
    client, signed_in, admin_headers, username, password, status, message
):
    api = client.post(
        "/user", json={"username": username, "password": password}, headers=admin_headers
    )
    assert (api.status_code, api.json["error"]["message"]) == (status, message)
    page = post_form(
        signed_in,
        "/admin/users/new",
        "/admin/users/new",
        username=username,
        password=password,
        admin="1",
    )
    assert page.status_code == status
    assert message in flashes(page.text)
    assert f'value="{username}"' in page.text
    assert re.search(r'name="admin" type="checkbox" value="1" checked', page.text)
    assert password not in page.text  # a password is never echoed back


def test_delete_needs_confirmation(app, signed_in):
    target = find(app, USER[0])
    confirm = signed_in.get(f"/admin/users/{target.id}/delete?search=user")
    assert confirm.status_code == 200
    assert f"Delete {USER[0]}?" in confirm.text
    assert find(app, USER[0]) is not None  # looking at the question deletes nothing
    response = post_form(
        signed_in,
        f"/admin/users/{target.id}/delete",
        f"/admin/users/{target.id}/delete",
        search="user",
    )
    assert response.headers["Location"] == "/admin?search=user"
    assert f"Deleted {USER[0]}." in flashes(signed_in.get("/admin").text)
    assert find(app, USER[0]) is None


def test_last_admin_cannot_be_deleted_or_demoted(app, signed_in):
    me = find(app, ADMIN[0])
    for action, fields in (("delete", {}), ("admin", {"admin": "false", "confirmed": "yes"})):
        response = post_form(signed_in, "/admin", f"/admin/users/{me.id}/{action}", **fields)
        assert response.status_code == 302
        page = signed_in.get("/admin")
        assert "cannot remove the last admin; make another user admin first" in flashes(page.text)
    assert find(app, ADMIN[0]).admin is True


def test_grant_and_revoke_admin(app, signed_in):
    target = find(app, USER[0])
    path = f"/admin/users/{target.id}/admin"
    response = post_form(signed_in, "/admin", path, admin="true", search="user", page="2")
    assert response.headers["Location"] == "/admin?search=user&page=2"
    assert f"{USER[0]} is now an admin." in flashes(signed_in.get("/admin").text)
    assert find(app, USER[0]).admin is True
    post_form(signed_in, "/admin", path, admin="false")
    assert f"{USER[0]} is no longer an admin." in flashes(signed_in.get("/admin").text)
    assert find(app, USER[0]).admin is False


def test_set_admin_needs_true_or_false(app, signed_in):
    target = find(app, USER[0])
    response = post_form(signed_in, "/admin", f"/admin/users/{target.id}/admin", admin="yes")
    assert response.status_code == 400
    assert "admin must be true or false" in response.text


@pytest.mark.parametrize("path", ["/admin/users/nope/delete"])
def test_unknown_user_is_404(signed_in, path):
    assert signed_in.get(path).status_code == 404
    response = post_form(signed_in, "/admin", path)
    assert response.status_code == 404 and "no such user" in response.text
    assert '<a href="/admin">Back to the users list</a>' in response.text


def change_password(client, current, new, again=None):
    return post_form(
        client,
        "/password",
        "/password",
        current_password=current,
        password=new,
        password2=new if again is None else again,
    )


@pytest.mark.parametrize(
    ("current", "new", "again", "status", "message"),
    [
        ("wrong password", "a new password", None, 403, "current_password is wrong"),
        (ADMIN[1], "a new password", "another password", 400, "the two passwords do not match"),
        (ADMIN[1], "short", None, 400, "password must be at least 8 characters"),
    ],
)
def test_change_password_refusals(app, signed_in, current, new, again, status, message):
    response = change_password(signed_in, current, new, again)
    assert response.status_code == status
    assert message in flashes(response.text)
    assert 'aria-current="page">My password<' in response.text
    login(signed_in, *ADMIN)  # the old password still works


def test_change_password_keeps_this_session_and_ends_the_others(app, client, signed_in):
    other = app.test_client()
    sign_in(other, *ADMIN)
    old_token = login(client, *ADMIN)
    response = change_password(signed_in, ADMIN[1], "my brand new password")
    assert response.headers["Location"] == "/subjects"
    assert signed_in.get("/admin").status_code == 200
    assert other.get("/admin").status_code == 302
    assert client.get("/user/me", headers=old_token).status_code == 401
    login(client, ADMIN[0], "my brand new password")


def test_sign_in_links_to_iforgot_and_rows_offer_a_reset_link(app, client, user):
    assert 'href="/iforgot">Forgot your password?</a>' in client.get("/login").text
    sign_in(client, *ADMIN)
    page = client.get("/admin").text
    assert page.count("Send reset link") == 2
    assert f'action="/admin/users/{find(app, USER[0]).id}/reset-link"' in page
