"""The operators' commands, through Flask's CLI runner against the test app's database."""

from datetime import timedelta

from conftest import ADMIN, USER, login
from sqlalchemy import func, select

from idm import clock
from idm.models import Attempt, AuditEvent, RevokedToken, User, db


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_create_asks_twice_for_a_hidden_password(runner, client, admin):
    result = runner.invoke(
        args=["users", "create", "New@Example.org"], input="new user pass\nnew user pass\n"
    )

    assert result.exit_code == 0, result.output
    assert "created user new@example.org" in result.output
    assert "new user pass" not in result.output  # hidden input is not echoed
    login(client, "new@example.org", "new user pass")


def test_create_refuses_when_the_confirmation_differs(runner, app, admin):
    result = runner.invoke(
        args=["users", "create", "new@example.org"], input="one password\nanother pw\n"
    )

    assert result.exit_code != 0
    assert count(app, User) == 1


def test_create_admin_with_password_from_stdin(runner, client, admin):
    result = runner.invoke(
        args=["users", "create", "--admin", "--password-stdin", "boss@example.org"],
        input="  spaces count too \n",
    )

    assert result.exit_code == 0, result.output
    headers = login(client, "boss@example.org", "  spaces count too ")
    assert client.get("/user/me", headers=headers).json["data"]["admin"] is True


def test_create_reports_the_service_refusal(runner, user):
    taken = runner.invoke(
        args=["users", "create", "--password-stdin", USER[0]], input="some password\n"
    )
    short = runner.invoke(
        args=["users", "create", "--password-stdin", "x@example.org"], input="x\n"
    )
    bad_name = runner.invoke(args=["users", "create", "--password-stdin", "nobody"], input="")

    assert taken.exit_code == 1
    assert f"Error: username {USER[0]} is already taken" in taken.output
    assert short.exit_code == 1
    assert "Error: password must be at least 8 characters" in short.output
    assert bad_name.exit_code == 1
    assert "Error: username must be an email address" in bad_name.output


def test_create_with_empty_stdin_is_refused(runner, admin):
    result = runner.invoke(args=["users", "create", "--password-stdin", "x@example.org"], input="")
    assert result.exit_code == 1
    assert "Error: no password on standard input" in result.output


def test_delete_asks_for_confirmation(runner, app, user):
    declined = runner.invoke(args=["users", "delete", USER[0]], input="n\n")
    assert declined.exit_code != 0
    assert count(app, User) == 2

    confirmed = runner.invoke(args=["users", "delete", USER[0]], input="y\n")

    assert confirmed.exit_code == 0, confirmed.output
    assert f"deleted {USER[0]}" in confirmed.output
    assert count(app, User) == 1


def test_delete_keeps_the_last_admin_and_knows_unknown_users(runner, admin):
    last = runner.invoke(args=["users", "delete", "--yes", ADMIN[0]])
    unknown = runner.invoke(args=["users", "delete", "--yes", "ghost@example.org"])

    assert last.exit_code == 1
    assert "Error: cannot remove the last admin" in last.output
    assert unknown.exit_code == 1
    assert "Error: no user ghost@example.org" in unknown.output


def test_list_shows_every_user_with_role(runner, user):
    result = runner.invoke(args=["users", "list"])

    assert result.exit_code == 0
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert [(line[0], line[1]) for line in lines] == [(ADMIN[0], "admin"), (USER[0], "user")]
    only = runner.invoke(args=["users", "list", "--search", "user@"])
    assert [line.split("\t")[0] for line in only.output.splitlines()] == [USER[0]]


def test_set_password_ends_older_tokens(runner, client, user, fake_clock):
    old = login(client, *user)
    fake_clock.advance(1)

    result = runner.invoke(
        args=["users", "set-password", USER[0]], input="operator set pw\noperator set pw\n"
    )

    assert result.exit_code == 0, result.output
    assert client.get("/user/me", headers=old).status_code == 401
    login(client, USER[0], "operator set pw")


def test_set_password_applies_the_policy(runner, client, user):
    result = runner.invoke(
        args=["users", "set-password", "--password-stdin", USER[0]], input="password\n"
    )

    assert result.exit_code == 1
    assert "Error: password is too common" in result.output
    login(client, *user)


def test_unlock_clears_a_lockout(runner, client, user):
    for _ in range(5):
        client.post("/auth", json={"username": USER[0], "password": "wrong password"})
    assert client.post("/auth", json={"username": USER[0], "password": USER[1]}).status_code == 429

    result = runner.invoke(args=["users", "unlock", USER[0]])

    assert result.exit_code == 0, result.output
    login(client, *user)


def test_cli_actions_are_audited_without_an_actor(runner, app, admin):
    runner.invoke(
        args=["users", "create", "--password-stdin", "cli@example.org"], input="cli pw 1234\n"
    )

    with app.app_context():
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (event.action, event.target_name, event.actor_id) == (
            "user.create",
            "cli@example.org",
            None,
        )


def test_audit_prune_deletes_only_what_is_past_retention(runner, app, client, user, fake_clock):
    client.post("/auth", json={"username": USER[0], "password": "wrong password"})
    client.post("/auth/logout", headers=login(client, *user))
    fake_clock.advance(2 * 24 * 3600)  # the token has expired, the attempt is old
    client.post("/auth", json={"username": "x@example.org", "password": "recent attempt"})
    before = count(app, AuditEvent)
    app.config["IDM_AUDIT_RETENTION_DAYS"] = 1

    result = runner.invoke(args=["audit", "prune"])

    assert result.exit_code == 0, result.output
    assert "deleted 5 audit events older than 1 days" in result.output
    assert count(app, AuditEvent) == before - 5  # init, user.create, 2 logins, logout
    assert count(app, Attempt) == 2  # the recent failure, per account and per address
    assert count(app, RevokedToken) == 0
    with app.app_context():
        cutoff = clock.now() - timedelta(days=1)
        assert db.session.scalar(select(func.min(AuditEvent.at))) > cutoff
