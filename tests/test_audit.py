"""The audit log: rows written with the change they record, and GET /audit (prune: test_cli)."""

from datetime import UTC, datetime

import pytest
from conftest import ADMIN, USER, csrf_token, login

from idm.audit import OUTCOMES

FIELDS = {"id", "at", "action", "outcome", "actor", "target", "target_username", "ip", "user_agent"}
FIELDS |= {"subject", "detail"}  # a study subject's events (tests/test_subject_audit.py)


def audit_rows(client, headers, query=""):
    response = client.get("/audit" + query, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def actions(rows):
    """(action, outcome, target username) oldest first."""
    return [(row["action"], row["outcome"], row["target_username"]) for row in reversed(rows)]


def test_full_scenario_is_recorded_in_order(client):
    page = client.get("/init")
    form = {"csrf_token": csrf_token(page.text), "username": ADMIN[0]}
    form.update(password=ADMIN[1], password2=ADMIN[1])
    assert client.post("/init", data=form).status_code == 201
    for _ in range(2):
        client.post("/auth", json={"username": ADMIN[0], "password": "wrong password"})
    admin = login(client, *ADMIN)
    created = client.post("/user", json={"username": USER[0], "password": USER[1]}, headers=admin)
    user_id = created.json["data"]["id"]
    assert client.delete(f"/user/{user_id}", headers=admin).status_code == 204

    body = audit_rows(client, admin)

    assert actions(body["data"]) == [
        ("init", "ok", ADMIN[0]),
        ("login", "failed", ADMIN[0]),
        ("login", "failed", ADMIN[0]),
        ("login", "ok", ADMIN[0]),
        ("user.create", "ok", USER[0]),
        ("user.delete", "ok", USER[0]),
    ]
    assert body["total"] == 6
    admin_id = body["data"][-1]["target"]
    newest = body["data"][0]
    assert newest["actor"] == admin_id
    assert newest["target"] == user_id
    assert newest["ip"] == "127.0.0.1"
    assert newest["at"].endswith("+00:00")
    assert set(newest) == FIELDS
    assert body["data"][-1]["actor"] is None  # /init is anonymous
    assert body["data"][-2]["actor"] is None  # a failed login proves no identity


def test_unknown_usernames_are_not_stored(client, admin_headers):
    client.post("/auth", json={"username": "my secret pw", "password": "whatever pw"})

    row = audit_rows(client, admin_headers, "?action=login")["data"][0]  # newest

    assert (row["action"], row["outcome"]) == ("login", "failed")
    assert row["target"] is None and row["target_username"] is None


def test_token_and_account_changes_are_recorded(client, admin_headers, user, fake_clock):
    headers = login(client, *user)
    user_id = client.get("/user/me", headers=headers).json["data"]["id"]
    headers = {
        "Authorization": "Bearer "
        + client.post("/auth/refresh", headers=headers).json["access_token"]
    }
    fake_clock.advance(1)
    change = {"password": "my new password", "current_password": USER[1]}
    client.put(f"/user/{user_id}", json=change, headers=headers)
    client.put(f"/user/{user_id}", json={"admin": True}, headers=admin_headers)
    client.put(f"/user/{user_id}", json={"admin": False}, headers=admin_headers)
    client.put(f"/user/{user_id}", json={"password": "set by an admin"}, headers=admin_headers)
    client.post("/auth/logout", headers=login(client, USER[0], "set by an admin"))

    rows = audit_rows(client, admin_headers, f"?user={user_id}")["data"]

    assert [row["action"] for row in reversed(rows)] == [
        "user.create",
        "login",
        "refresh",
        "password.change",
        "admin.grant",
        "admin.revoke",
        "user.update",
        "login",
        "logout",
    ]
    by_action = {row["action"]: row for row in rows}
    assert by_action["password.change"]["actor"] == user_id
    assert by_action["user.update"]["actor"] != user_id


def test_lockout_and_unlock_are_recorded(client, user, admin_headers):
    for _ in range(5):
        client.post("/auth", json={"username": USER[0], "password": "wrong password"})
    user_id = client.get("/users?search=user@", headers=admin_headers).json["data"][0]["id"]
    client.post(f"/user/{user_id}/unlock", headers=admin_headers)

    rows = audit_rows(client, admin_headers, f"?user={USER[0]}")["data"]

    assert [(row["action"], row["outcome"]) for row in rows[:3]] == [
        ("unlock", "ok"),
        ("lockout", "account"),
        ("login", "failed"),
    ]


def test_a_refused_change_leaves_no_record(client, admin_headers):
    admin_id = client.get("/user/me", headers=admin_headers).json["data"]["id"]
    taken = {"username": ADMIN[0], "password": "some password 1"}

    assert client.post("/user", json=taken, headers=admin_headers).status_code == 409
    assert client.delete(f"/user/{admin_id}", headers=admin_headers).status_code == 409
    demote = client.put(f"/user/{admin_id}", json={"admin": False}, headers=admin_headers)
    assert demote.status_code == 409

    rows = audit_rows(client, admin_headers)["data"]
    assert [row["action"] for row in rows] == ["login", "init"]


def test_filter_by_username_finds_a_deleted_users_history(client, admin_headers, user):
    user_id = client.get("/users?search=user@", headers=admin_headers).json["data"][0]["id"]
    client.delete(f"/user/{user_id}", headers=admin_headers)

    rows = audit_rows(client, admin_headers, "?user=User@Example.org")["data"]

    assert [row["action"] for row in rows] == ["user.delete", "user.create"]


def test_filter_by_username_finds_what_that_user_did(client, admin_headers):
    second = {"username": "second@example.org", "password": "second password 1", "admin": True}
    client.post("/user", json=second, headers=admin_headers)
    second_headers = login(client, second["username"], second["password"])
    client.post("/user", json={"username": USER[0], "password": USER[1]}, headers=second_headers)
    client.delete("/user", json={"username": second["username"]}, headers=admin_headers)

    rows = audit_rows(client, admin_headers, "?user=Second@Example.org")["data"]

    # Found by the name although the account is gone: the row of USER's
    # creation names only the actor's id.
    assert actions(rows) == [
        ("user.create", "ok", second["username"]),
        ("login", "ok", second["username"]),
        ("user.create", "ok", USER[0]),
        ("user.delete", "ok", second["username"]),
    ]


def test_filters_and_pages(client, admin_headers):
    for _ in range(3):
        client.post("/auth", json={"username": ADMIN[0], "password": "wrong password"})

    logins = audit_rows(client, admin_headers, "?action=login&perpage=2")
    second_page = audit_rows(client, admin_headers, "?action=login&perpage=2&offset=2")

    assert logins["total"] == 4
    assert len(logins["data"]) == 2
    assert [row["outcome"] for row in logins["data"] + second_page["data"]] == [
        "failed",
        "failed",
        "failed",
        "ok",
    ]
    assert audit_rows(client, admin_headers, "?user=nobody@example.org") == {
        "data": [],
        "total": 0,
    }


def test_filter_by_days_and_outcome(client, admin, fake_clock):
    """``since`` and ``until`` are UTC days, both included."""
    for moment, password in [
        (datetime(2026, 12, 4, 23, 59, 59, tzinfo=UTC), "wrong password"),
        (datetime(2026, 12, 5, 0, 0, 0, tzinfo=UTC), ADMIN[1]),
        (datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC), "wrong password"),
    ]:
        fake_clock.moment = moment
        client.post("/auth", json={"username": ADMIN[0], "password": password})
    fake_clock.advance(1)
    headers = login(client, *ADMIN)  # at 2026-12-07 12:00:01

    def times(query):
        return [
            row["at"][5:19] for row in audit_rows(client, headers, "?action=login" + query)["data"]
        ]

    assert times("&until=2026-12-04") == ["12-04T23:59:59"]
    assert times("&since=2026-12-05&until=2026-12-05") == ["12-05T00:00:00"]
    assert times("&since=2026-12-05&until=2026-12-06") == ["12-05T00:00:00"]
    assert times("&since=2026-12-07") == ["12-07T12:00:01", "12-07T12:00:00"]
    assert times("&since=2026-12-05&outcome=failed") == ["12-07T12:00:00"]
    assert times("&until=2026-12-05&outcome=ok") == ["12-05T00:00:00"]
    assert times("&since=0001-01-01&until=9999-12-31&outcome=failed") == [
        "12-07T12:00:00",
        "12-04T23:59:59",
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?since=2026-12-4", "since must be a date as YYYY-MM-DD, like 2026-12-04"),
        ("?until=2026-02-30", "until must be a date as YYYY-MM-DD"),
        ("?since=20261204", "since must be a date as YYYY-MM-DD"),
        ("?since=2026-W49-5", "since must be a date as YYYY-MM-DD"),
        ("?since=0000-01-01", "since must be a date as YYYY-MM-DD"),
        ("?until=2026-12-04T10:00", "until must be a date as YYYY-MM-DD"),
        ("?since=%D9%A2026-12-04", "since must be a date as YYYY-MM-DD"),
        ("?since=2026-12-05&until=2026-12-04", "since must not be after until"),
        ("?outcome=bad", "unknown outcome 'bad'; known outcomes: " + ", ".join(sorted(OUTCOMES))),
        ("?action=drop", "unknown action 'drop'"),
        ("?perpage=0", "perpage must be at least 1"),
        ("?perpage=501", "perpage must be at most 500"),
        ("?offset=x", "offset must be a whole number"),
        ("?user=%00", "user must not contain NUL characters"),
    ],
)
def test_bad_queries_are_400(client, admin_headers, query, message):
    response = client.get("/audit" + query, headers=admin_headers)
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith(message)


def test_audit_is_for_admins(client, user_headers):
    assert client.get("/audit", headers=user_headers).status_code == 403
    assert client.get("/audit").status_code == 401


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_no_endpoint_changes_the_log(client, admin_headers, method):
    response = client.open("/audit", method=method, headers=admin_headers)

    assert response.status_code == 405
    assert response.json["error"]["status"] == 405
    assert audit_rows(client, admin_headers)["total"] == 2
