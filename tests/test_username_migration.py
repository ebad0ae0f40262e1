"""Revision 79f102aab640 on a database with users and queued mail already in it."""

import logging
from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
from sqlalchemy import inspect, select, text
from test_migrations import bare_app

from idm.mail import outbox
from idm.models import OutboxMessage, User, db, new_id
from idm.validation import username_key

BEFORE = "778cd391e162"


def add_rows(names):
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, password_hash, admin, created, changed)"
                " VALUES (:id, :name, 'x', false, :now, :now)"
            ),
            [{"id": new_id(), "name": name, "now": now} for name in names],
        )


def test_existing_users_get_their_keys_and_those_off_the_rules_are_reported(database_uri, caplog):
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        add_rows(["kept@example.org", "Mixed@Example.org", "odd@localhost"])

        with caplog.at_level(logging.WARNING, "alembic"):
            flask_migrate.upgrade()

        users = {user.username: user for user in db.session.scalars(select(User))}
        assert set(users) == {"kept@example.org", "Mixed@Example.org", "odd@localhost"}
        assert all(user.username_key == username_key(name) for name, user in users.items())
        report = caplog.text
        assert (
            "Mixed@Example.org" in report and "would now be stored as mixed@example.org" in report
        )
        assert "odd@localhost" in report and "no longer passes the username rules" in report
        assert "kept@example.org" not in report
        db.session.remove()
        db.engine.dispose()


def test_two_existing_look_alikes_stop_the_upgrade_before_any_change(database_uri, caplog):
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        add_rows(["admin@example.org", "other@example.org", "\u0430dmin@example.org"])

        with pytest.raises(SystemExit), caplog.at_level(logging.ERROR, "flask_migrate"):
            flask_migrate.upgrade()  # `flask db upgrade` exits 1 with the message

        (message,) = [r.getMessage() for r in caplog.records if "look the same" in r.message]
        assert "admin@example.org (id " in message and "\u0430dmin@example.org (id " in message
        assert "other@example.org" not in message
        assert "nothing was changed" in message
        with db.engine.connect() as connection:
            schema = inspect(connection)
            assert "username_key" not in {c["name"] for c in schema.get_columns("users")}
            assert "mail_check" not in schema.get_table_names()
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == BEFORE
        db.engine.dispose()


def test_queued_mail_is_sealed_and_still_delivers(database_uri):
    app = bare_app(database_uri)
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE)
        now = datetime.now(UTC).replace(tzinfo=None)
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO outbox (recipient, subject, text_body, html_body, created,"
                    " expires, next_attempt_at, attempts)"
                    " VALUES ('a@example.org', 'Reset', 'go to /reset?k=SECRETKEY',"
                    " '<a href=\"/reset?k=SECRETKEY\">', :now, :later, :now, 0)"
                ),
                {"now": now, "later": now + timedelta(hours=1)},
            )

        flask_migrate.upgrade()

        with db.engine.connect() as connection:
            stored = connection.execute(text("SELECT text_body, html_body FROM outbox")).one()
        assert "SECRETKEY" not in "".join(stored)
        letter = outbox.letter_of(db.session.scalars(select(OutboxMessage)).one())
        assert letter.text == "go to /reset?k=SECRETKEY"
        assert letter.html == '<a href="/reset?k=SECRETKEY">'

        flask_migrate.downgrade(revision=BEFORE)
        with db.engine.connect() as connection:
            assert connection.scalar(text("SELECT text_body FROM outbox")) == stored_plain()
        db.session.remove()
        db.engine.dispose()


def stored_plain():
    return "go to /reset?k=SECRETKEY"
