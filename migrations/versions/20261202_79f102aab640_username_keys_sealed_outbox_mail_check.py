"""username keys, sealed outbox bodies, the mail server check

Revision ID: 79f102aab640
Revises: 778cd391e162
Create Date: 2026-12-02 20:09:39.144731

Three changes:

* ``users.username_key`` (validation.username_key: the digest of what a
  username looks like) with a unique index, filled for every existing row.
  Every existing username is checked against the current rules first, and
  each one that no longer passes (or that the rules would now store in
  another form) is reported in the log; none is changed: a user keeps the
  address they sign in with. Two existing users whose usernames look the
  same cannot both get the key, and the migration cannot know which of them
  is genuine, so it stops before changing anything and names them: delete
  or rename one in SQL (the message says how; the new code's commands need
  the new column), then run ``flask --app app db upgrade`` again. A
  unique index that left them out would keep exactly the hole it closes.
* Queued outbox bodies are sealed (idm/crypto.py) with this deployment's
  SECRET_KEY, so the links they carry stop being readable in the database.
* The one-row table ``mail_check``: the latest check of the mail server,
  which /status reports.

Unlike the earlier revisions this one runs the app's code (the username
rules and the key, the sealing), because the values cannot be computed in
SQL. A later change of the key's computation (a new confusables.txt) needs
its own revision that recomputes the keys the same way. It needs a live
database: ``db upgrade --sql`` cannot compute them.
"""

import logging
from collections import defaultdict

import sqlalchemy as sa
from alembic import context, op
from flask import current_app
from werkzeug.exceptions import BadRequest

from idm import crypto
from idm.validation import normalize_username, username_key

# revision identifiers, used by Alembic.
revision = "79f102aab640"
down_revision = "778cd391e162"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
SEAL_PURPOSE = "outbox"  # idm/mail/outbox.py
RESOLVE = (
    "Delete or rename all but one of each in SQL (DELETE FROM users WHERE id = '...',"
    " or UPDATE users SET username = '...' WHERE id = '...'), then run"
    " flask --app app db upgrade again; nothing was changed"
)


def upgrade():
    if context.is_offline_mode():
        raise RuntimeError("revision 79f102aab640 computes values in Python: run it online")
    # First, before any change: SQLite does not roll DDL back.
    keys = checked_keys(op.get_bind())
    op.create_table(
        "mail_check",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("problem", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_check")),
    )
    # NOT NULL needs a default for the rows that exist: a plain ADD COLUMN,
    # because on SQLite a rebuild of users would drop its user_count triggers.
    op.add_column(
        "users",
        sa.Column("username_key", sa.String(length=64), nullable=False, server_default=""),
    )
    if keys:
        op.get_bind().execute(
            sa.text("UPDATE users SET username_key = :key WHERE id = :id"),
            [{"id": user_id, "key": key} for user_id, key in keys.items()],
        )
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot drop a default in place
        op.alter_column("users", "username_key", server_default=None)
    op.create_index("ix_users_username_key", "users", ["username_key"], unique=True)
    reseal_outbox(op.get_bind(), crypto_seal)


def checked_keys(bind):
    """{user id: key} of every user; reports rule failures, stops on look-alikes."""
    rows = bind.execute(sa.text("SELECT id, username FROM users ORDER BY created, id")).all()
    by_key = defaultdict(list)
    for user_id, username in rows:
        report_rules(user_id, username)
        by_key[username_key(username)].append((user_id, username))
    clashes = [users for users in by_key.values() if len(users) > 1]
    if clashes:
        groups = "; ".join(
            " and ".join(f"{name} (id {user_id})" for user_id, name in users) for users in clashes
        )
        raise RuntimeError(f"usernames that look the same cannot both stay: {groups}. " + RESOLVE)
    return {users[0][0]: key for key, users in by_key.items()}


def report_rules(user_id, username):
    try:
        normalized = normalize_username(username)
    except BadRequest as error:
        log.warning(
            "user %s (id %s) no longer passes the username rules, left as it is: %s",
            username,
            user_id,
            error.description,
        )
        return
    if normalized != username:
        log.warning(
            "user %s (id %s) would now be stored as %s; left as it is",
            username,
            user_id,
            normalized,
        )


def crypto_seal(recipient, part, body):
    context_ = f"{recipient}\x00{part}"
    secret_key = current_app.config["SECRET_KEY"]
    return crypto.seal(SEAL_PURPOSE, body.encode(), context=context_, secret_key=secret_key)


def crypto_unseal(recipient, part, body):
    context_ = f"{recipient}\x00{part}"
    secret_key = current_app.config["SECRET_KEY"]
    return crypto.unseal(SEAL_PURPOSE, body, context=context_, secret_key=secret_key).decode()


def reseal_outbox(bind, transform):
    """Apply *transform* to the bodies of every message not yet sent."""
    rows = bind.execute(
        sa.text("SELECT id, recipient, text_body, html_body FROM outbox WHERE sent_at IS NULL")
    ).all()
    for message_id, recipient, text_body, html_body in rows:
        bind.execute(
            sa.text("UPDATE outbox SET text_body = :text, html_body = :html WHERE id = :id"),
            {
                "id": message_id,
                "text": transform(recipient, "text", text_body),
                "html": transform(recipient, "html", html_body),
            },
        )


def downgrade():
    if context.is_offline_mode():
        raise RuntimeError("revision 79f102aab640 computes values in Python: run it online")
    bind = op.get_bind()
    try:
        reseal_outbox(bind, crypto_unseal)
    except crypto.Unreadable:
        # Sealed under another SECRET_KEY: nothing can send them any more.
        bind.execute(sa.text("DELETE FROM outbox WHERE sent_at IS NULL"))
    op.drop_index("ix_users_username_key", table_name="users")
    op.drop_column("users", "username_key")
    op.drop_table("mail_check")
