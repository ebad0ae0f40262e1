"""The audit log page, and the audit rows that admin pages leave: the API's rows."""

import re
from datetime import UTC, datetime

import pytest
from admin_helpers import flashes, post_form, sign_in
from conftest import ADMIN, USER, login

from idm import audit
from idm.models import AuditEvent, User, db

PASSWORD = "some password 1"


@pytest.fixture
def signed_in(client, user):
    sign_in(client, *ADMIN)
    return client


def user_id(app, username):
    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.username == username))


def cells(html):
    """Each event row as {column: text}, newest first."""
    rows = re.findall(r"<tr>\s*<th scope=\"row\" class=\"when\">(.*?)</tr>", html, re.S)
    table = []
    for row in rows:
        texts = re.findall(r'<td data-label="([^"]+)"[^>]*>(.*?)</td>', row, re.S)
        table.append({label: re.sub(r"<[^>]+>", "", text).strip() for label, text in texts})
    return table


def column(html, label):
    return [row[label] for row in cells(html)]


def test_audit_page_needs_an_admin_session(client, user):
    assert client.get("/admin/audit").headers["Location"] == "/login"
    sign_in(client, *USER)
    page = client.get("/admin/audit")
    assert page.status_code == 403  # signed in, but not an admin
    assert "admin rights required" in flashes(page.text)


def test_audit_page_lists_events_newest_first(app, signed_in):
    signed_in.post("/auth", json={"username": USER[0], "password": "wrong password"})

    page = signed_in.get("/admin/audit", headers={"User-Agent": "Test browser/1.0"})

    assert page.status_code == 200
    assert "<title>Audit log · Admin · IDM</title>" in page.text
    assert 'aria-current="page">Audit log<' in page.text
    assert "4 events, newest first" in page.text
    newest, *_ = cells(page.text)
    assert newest == {
        "Action": "login",
        "Outcome": "Failed",
        "Actor": "—",  # a failed login proves no identity
        "Target": USER[0],
        "IP": "127.0.0.1",
        "User agent": newest["User agent"],
    }
    assert newest["User agent"].startswith("Werkzeug/")
    assert column(page.text, "Action") == ["login", "login", "user.create", "init"]
    assert column(page.text, "Actor") == ["—", ADMIN[0], "—", "—"]  # the CLI-made user: no actor
    assert re.search(r'<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</time>', page.text)


def test_a_deleted_actor_is_shown_by_the_address_it_had(app, client, signed_in, admin_headers):
    second = {"username": "second@example.org", "password": PASSWORD, "admin": True}
    client.post("/user", json=second, headers=admin_headers)
    client.post(
        "/user",
        json={"username": "third@example.org", "password": PASSWORD},
        headers=login(client, second["username"], PASSWORD),
    )
    second_id = user_id(app, second["username"])
    client.delete(f"/user/{second_id}", headers=admin_headers)

    page = signed_in.get("/admin/audit?action=user.create")

    assert cells(page.text)[0]["Actor"] == "second@example.org (deleted)"
    assert cells(page.text)[0]["Target"] == "third@example.org"
    assert second_id not in page.text


def test_filter_by_action_and_user(app, signed_in):
    signed_in.post("/auth", json={"username": USER[0], "password": "wrong password"})
    signed_in.post("/auth", json={"username": ADMIN[0], "password": "wrong password"})

    by_action = signed_in.get("/admin/audit?action=login")
    by_both = signed_in.get(f"/admin/audit?action=login&user={USER[0].upper()}")
    by_id = signed_in.get(f"/admin/audit?user={user_id(app, USER[0])}")

    assert column(by_action.text, "Action") == ["login"] * 3
    assert '<option value="login" selected>' in by_action.text
    assert column(by_both.text, "Target") == [USER[0]]
    assert f'value="{USER[0].upper()}"' in by_both.text  # the filter is kept
    assert "<title>Audit log (login, USER@EXAMPLE.ORG) · Admin · IDM</title>" in by_both.text
    assert "1 event matches" in by_both.text
    assert '<a href="/admin/audit">Show all</a>' in by_both.text
    assert column(by_id.text, "Action") == ["login", "user.create"]
    nothing = signed_in.get("/admin/audit?user=nobody@example.org")
    assert cells(nothing.text) == [] and "No events match these filters." in nothing.text


def test_action_select_offers_every_action_and_any(signed_in):
    page = signed_in.get("/admin/audit")
    select = re.search(r'<select id="action".*?</select>', page.text, re.S).group(0)
    options = re.findall(r'<option value="([^"]*)"', select)
    assert options[0] == ""  # "any"
    # Every action the log can hold, straight from the one list of them.
    assert set(options[1:]) == audit.ACTIONS


def test_outcomes_are_words_and_a_filter(app, client, signed_in):
    for _ in range(5):
        client.post("/auth", json={"username": USER[0], "password": "wrong password"})

    page = signed_in.get("/admin/audit?outcome=account")

    select = re.search(r'<select id="outcome".*?</select>', page.text, re.S).group(0)
    offered = re.findall(r'<option value="([^"]*)"(?: selected)?>([^<]+)</option>', select)
    assert offered[0] == ("", "any")
    assert dict(offered[1:]) == audit.OUTCOMES  # every outcome, in words
    assert '<option value="account" selected>Account locked</option>' in select
    assert column(page.text, "Outcome") == ["Account locked"]
    assert column(page.text, "Action") == ["lockout"]
    assert "<title>Audit log (Account locked) · Admin · IDM</title>" in page.text
    failed = signed_in.get("/admin/audit?outcome=failed&action=login")
    assert column(failed.text, "Outcome") == ["Failed"] * 5


def test_filter_by_days(app, client, user, fake_clock):
    fake_clock.moment = datetime(2036, 12, 6, 8, 30, tzinfo=UTC)
    client.post("/auth", json={"username": USER[0], "password": "wrong password"})
    fake_clock.moment = datetime(2036, 12, 8, 9, 0, tzinfo=UTC)
    sign_in(client, *ADMIN)

    page = client.get("/admin/audit?since=2036-12-05&until=2036-12-06")

    assert [row[:16] for row in re.findall(r'<time datetime="([^"]+)"', page.text)] == [
        "2036-12-06T08:30"
    ]
    assert '<input id="since" name="since" type="date" value="2036-12-05"' in page.text
    assert '<input id="until" name="until" type="date" value="2036-12-06"' in page.text
    assert "since 2036-12-05, until 2036-12-06) · Admin" in page.text
    assert '<a href="/admin/audit">Show all</a>' in page.text


def test_user_agents_are_shortened_with_the_whole_text_on_hover(app, client, signed_in):
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
    client.post(
        "/auth",
        json={"username": USER[0], "password": "wrong password"},
        headers={"User-Agent": agent},
    )
    page = signed_in.get("/admin/audit?outcome=failed")
    cell = re.search(r'<td data-label="User agent" class="agent"([^>]*)>(.*?)</td>', page.text)
    assert cell.group(1) == f' title="{agent}"'
    assert cell.group(2) == agent[:39] + "…"  # 40 characters
    # A short one is shown whole, without a title.
    short = signed_in.get("/admin/audit?action=init")
    assert '<td data-label="User agent" class="agent">' in short.text


def test_an_actor_whose_every_row_was_pruned_is_shown_by_id(app, client, signed_in, admin_headers):
    second = {"username": "second@example.org", "password": PASSWORD, "admin": True}
    second_id = client.post("/user", json=second, headers=admin_headers).json["data"]["id"]
    client.post(
        "/user",
        json={"username": "third@example.org", "password": PASSWORD},
        headers=login(client, second["username"], PASSWORD),
    )
    client.delete(f"/user/{second_id}", headers=admin_headers)
    with app.app_context():
        db.session.execute(db.delete(AuditEvent).where(AuditEvent.target_id == second_id))
        db.session.commit()

    page = signed_in.get("/admin/audit?action=user.create")

    assert cells(page.text)[0]["Actor"] == f"{second_id} (deleted)"


def test_the_names_of_a_pages_actors_take_one_query(app, client, signed_in, admin_headers):
    for number in range(5):
        body = {"username": f"admin{number}@example.org", "password": PASSWORD, "admin": True}
        client.post("/user", json=body, headers=admin_headers)
        headers = login(client, body["username"], PASSWORD)
        if number % 2:
            client.delete(f"/user/{user_id(app, body['username'])}", headers=admin_headers)
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent)).all()
        statements = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731
        db.event.listen(db.engine, "before_cursor_execute", listen)
        try:
            names = audit.actor_names(events)
        finally:
            db.event.remove(db.engine, "before_cursor_execute", listen)
    assert len(statements) == 1
    assert names[user_id(app, ADMIN[0])] == (ADMIN[0], False)
    assert {name for name, deleted in names.values() if deleted} == {
        "admin1@example.org",
        "admin3@example.org",
    }
    assert headers  # the last admin's own login made it an actor


def test_pagination_keeps_the_filters(app, signed_in):
    app.config["IDM_AUDIT_PER_PAGE"] = 2
    for _ in range(3):
        signed_in.post("/auth", json={"username": USER[0], "password": "wrong password"})

    first = signed_in.get("/admin/audit?action=login")
    last = signed_in.get("/admin/audit?action=login&page=2")

    assert "4 events match" in first.text and "Page 1 of 2" in first.text
    assert 'href="/admin/audit?page=2&amp;action=login"' in first.text
    assert column(first.text, "Outcome") == ["Failed", "Failed"]
    assert column(last.text, "Outcome") == ["Failed", "OK"]
    assert "<title>Audit log (login), page 2 · Admin · IDM</title>" in last.text
    assert 'rel="next"' not in last.text and 'rel="prev"' in last.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("action=drop", "unknown action &#39;drop&#39;; known actions: admin.grant"),
        ("action=any", "unknown action &#39;any&#39;"),
        ("user=a%00b", "user must not contain NUL characters"),
        ("user=" + "x" * 255, "user must be at most 254 characters"),
        ("page=0", "page must be at least 1"),
        ("page=x", "page must be a whole number"),
        ("page=" + "9" * 30, "page must be at most 1000000"),
        ("since=yesterday", "since must be a date as YYYY-MM-DD, like 2026-12-04"),
        ("until=2026-13-01", "until must be a date as YYYY-MM-DD"),
        ("since=2026-12-05&until=2026-12-04", "since must not be after until"),
        ("outcome=fine", "unknown outcome &#39;fine&#39;; known outcomes: account"),
    ],
)
def test_bad_filters_are_a_clear_400(signed_in, query, message):
    response = signed_in.get("/admin/audit?" + query)
    assert response.status_code == 400
    assert message in response.text


# --- Admin pages leave the same audit rows as the JSON API -------------------


def events_after(app, newest_id):
    with app.app_context():
        query = db.select(AuditEvent).where(AuditEvent.id > newest_id).order_by(AuditEvent.id)
        return [event.to_json() for event in db.session.scalars(query)]


def newest_event_id(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.max(AuditEvent.id)))


def recorded(app, act, target):
    """The rows *act* adds, with actor and target told by role, not by id."""
    admin_id = user_id(app, ADMIN[0])
    before = newest_event_id(app)
    act()
    rows = events_after(app, before)
    target_id = user_id(app, target)
    roles = {admin_id: "admin", None: None}
    return [
        (
            row["action"],
            row["outcome"],
            roles.get(row["actor"], row["actor"]),
            "target" if row["target"] == target_id or row["target_username"] == target else None,
            row["ip"],
            row["user_agent"],
        )
        for row in rows
    ]


def prepare(client, headers, case, name):
    """Bring *name* into the state the case acts on."""
    if case in ("delete", "grant", "unlock"):
        client.post("/user", json={"username": name, "password": PASSWORD}, headers=headers)
    if case == "revoke":
        body = {"username": name, "password": PASSWORD, "admin": True}
        client.post("/user", json=body, headers=headers)
    if case == "unlock":
        for _ in range(5):
            client.post("/auth", json={"username": name, "password": "wrong password"})


def by_api(app, client, headers, case, name):
    """What a script does for *case* through the JSON API."""
    target = user_id(app, name)
    return {
        "create": lambda: client.post(
            "/user", json={"username": name, "password": PASSWORD}, headers=headers
        ),
        "delete": lambda: client.delete(f"/user/{target}", headers=headers),
        "grant": lambda: client.put(f"/user/{target}", json={"admin": True}, headers=headers),
        "revoke": lambda: client.put(f"/user/{target}", json={"admin": False}, headers=headers),
        "unlock": lambda: client.post(f"/user/{target}/unlock", headers=headers),
    }[case]


def by_page(app, client, case, name):
    """What an admin does for *case* on the pages."""
    target = user_id(app, name)
    return {
        "create": lambda: post_form(
            client, "/admin/users/new", "/admin/users/new", username=name, password=PASSWORD
        ),
        "delete": lambda: post_form(client, "/admin", f"/admin/users/{target}/delete"),
        "grant": lambda: post_form(client, "/admin", f"/admin/users/{target}/admin", admin="true"),
        "revoke": lambda: post_form(
            client, "/admin", f"/admin/users/{target}/admin", admin="false"
        ),
        "unlock": lambda: post_form(client, "/admin", f"/admin/users/{target}/unlock"),
    }[case]


@pytest.mark.parametrize("case", ["create", "delete", "grant", "revoke", "unlock"])
def test_acting_on_a_user_is_recorded_as_by_the_api(app, client, signed_in, admin_headers, case):
    prepare(client, admin_headers, case, "api@example.org")
    prepare(client, admin_headers, case, "page@example.org")

    api_rows = recorded(
        app, by_api(app, client, admin_headers, case, "api@example.org"), "api@example.org"
    )
    page_rows = recorded(app, by_page(app, signed_in, case, "page@example.org"), "page@example.org")

    assert page_rows == api_rows
    assert len(page_rows) == 1 and page_rows[0][2:4] == ("admin", "target")


def test_own_password_change_is_recorded_as_by_the_api(app, client, admin_headers, user):
    admin_id = user_id(app, ADMIN[0])
    change = {"password": "changed by api 1", "current_password": ADMIN[1]}
    api_rows = recorded(
        app, lambda: client.put(f"/user/{admin_id}", json=change, headers=admin_headers), ADMIN[0]
    )
    sign_in(client, ADMIN[0], "changed by api 1")

    page_rows = recorded(
        app,
        lambda: post_form(
            client,
            "/password",
            "/password",
            current_password="changed by api 1",
            password="changed by page 1",
            password2="changed by page 1",
        ),
        ADMIN[0],
    )

    assert page_rows == api_rows
    assert [row[:4] for row in page_rows] == [("password.change", "ok", "admin", "target")]


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        (ADMIN[1], ("login", "ok", "admin", "target")),
        ("wrong password", ("login", "failed", None, "target")),
    ],
)
def test_admin_sign_in_is_recorded_as_a_login(app, client, admin, password, expected):
    api_rows = recorded(
        app,
        lambda: client.post("/auth", json={"username": ADMIN[0], "password": password}),
        ADMIN[0],
    )

    page_rows = recorded(app, lambda: sign_in(client, ADMIN[0], password), ADMIN[0])

    assert page_rows == api_rows
    assert [row[:4] for row in page_rows] == [expected]
    if password == ADMIN[1]:
        assert f"Signed in as {ADMIN[0]}." in flashes(client.get("/admin").text)
