"""Tables of the service. Business rules live in users.py, not here."""

import logging
import uuid
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    event,
    exists,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from . import clock, user_count

log = logging.getLogger(__name__)

# Every constraint and index gets a predictable name, the same on SQLite and
# PostgreSQL, so a later migration can drop or alter it by name (SQLite's
# batch mode cannot touch an unnamed constraint).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite too."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


def new_id():
    return str(uuid.uuid4())


class User(db.Model):
    __tablename__ = "users"  # "user" is a reserved word in PostgreSQL

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Lower-cased email address; the unique index makes duplicates impossible
    # even when two requests race.
    username: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    admin: Mapped[bool] = mapped_column(default=False, index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    changed: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Access tokens issued before this moment are refused: set when the
    # password changes, so every older token dies on every worker at once.
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def to_json(self):
        """The public view of a user: an allow-list, never a hash or token."""
        return {
            "id": self.id,
            "username": self.username,
            "admin": self.admin,
            "created": iso(self.created),
            "changed": iso(self.changed),
            "last_login": iso(self.last_login),
        }


class UserCount(db.Model):
    """The number of rows in ``users``, in its one row (id 1).

    Kept by database triggers on ``users`` (user_count.py says why and how),
    never written by the service, so that ``GET /users`` reads its exact
    ``total`` by primary key instead of counting every row.
    """

    __tablename__ = "user_count"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int]


user_count.attach(UserCount.__table__, User.__table__)


class Setup(db.Model):
    """One row (id 1) written with the first admin: a second /init collides."""

    __tablename__ = "setup"

    id: Mapped[int] = mapped_column(primary_key=True)
    done: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class ResetToken(db.Model):
    """The one live password-reset link of a user (see reset.py for why it is safe).

    The user id is the primary key, so a new request replaces the older link.
    Only the SHA-256 of the token is stored; the link itself is in the email.
    """

    __tablename__ = "reset_tokens"

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxMessage(db.Model):
    """An email waiting to be sent, or sent (see outbox.py).

    Rows outlive restarts; a sender claims a row for a while before sending,
    so two senders never take the same row at once.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # Undelivered by then, the message is dropped (a reset link is dead by then).
    expires: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def iso(moment):
    return moment.isoformat(timespec="seconds") if moment is not None else None


def admin_exists():
    return db.session.scalar(select(exists().where(User.admin)))


@event.listens_for(Engine, "connect")
def tune_sqlite(dbapi_connection, _record):
    """WAL lets readers work while one worker writes; wait for locks, don't fail."""
    # By module name: importing sqlite3 to ask would load it (0.9 MiB) into
    # PostgreSQL workers too.
    if type(dbapi_connection).__module__ == "sqlite3":
        cursor = dbapi_connection.cursor()
        # The timeout first: switching to WAL takes a lock, and a worker that
        # starts while another creates the schema must wait for it, not fail.
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")
        # SQLite's advice for WAL: a commit no longer waits for the disk (the
        # fsync comes at checkpoints), which was most of a login's time
        # besides the hash. The database stays intact whatever happens, and a
        # crash of the service loses nothing; a power cut or OS crash can
        # undo the last commits before it. Hosts that cannot accept that
        # run PostgreSQL (DEPLOY.md).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


class Attempt(db.Model):
    """One counted event (failed login, reset request…) for DB-backed throttling.

    Counted in the database, not in process memory, so limits hold across
    gunicorn workers and hosts.
    """

    __tablename__ = "attempts"
    __table_args__ = (Index("ix_attempts_kind_key_at", "kind", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class AuditEvent(db.Model):
    """Append-only record of who did what. No API updates or deletes rows.

    Actor and target are plain ids, not foreign keys, so the record of a
    deleted user outlives the user; the target's username is kept as well.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    actor_id: Mapped[str | None] = mapped_column(String(36))
    target_id: Mapped[str | None] = mapped_column(String(36), index=True)
    target_name: Mapped[str | None] = mapped_column(String(254))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    def to_json(self):
        return {
            "id": self.id,
            "at": iso(self.at),
            "action": self.action,
            "outcome": self.outcome,
            "actor": self.actor_id,
            "target": self.target_id,
            "target_username": self.target_name,
            "ip": self.ip,
            "user_agent": self.user_agent,
        }


class RevokedToken(db.Model):
    """A logged-out or refreshed-away access token, kept until it would expire.

    Checked on every request by primary key in the same query that loads the
    user (auth.py), so a logout holds on every worker and host at once. Rows
    past ``expires_at`` prove nothing any more (the token is expired anyway)
    and are pruned.
    """

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
