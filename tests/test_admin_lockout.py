"""The "locked" badge on the users list, by the lockout's own rule."""

import contextlib
import re

import pytest
from admin_helpers import sign_in
from conftest import ADMIN, USER
from sqlalchemy import event

from idm.models import db
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
    return [row.split()[0] for row in rows if 'class="badge locked"' in row]


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
