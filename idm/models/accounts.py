"""The accounts: users, their password-reset links, revoked tokens, counted attempts."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, exists, select
from sqlalchemy.orm import Mapped, mapped_column

from .. import clock
from . import row_count
from .base import UTCDateTime, db, iso, new_id


class User(db.Model):
    __tablename__ = "users"  # "user" is a reserved word in PostgreSQL

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # The normalized email address (validation.normalize_username); mail
    # goes to exactly this address.
    username: Mapped[str] = mapped_column(String(254), unique=True)
    # validation.username_key(username): the digest of what the address looks
    # like. Its unique index lets no look-alike of an existing username in,
    # also when two requests race: the database decides, not a prior SELECT.
    username_key: Mapped[str] = mapped_column(String(64), index=True, unique=True)
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

    Kept by database triggers on ``users`` (row_count.py says why and how),
    never written by the service, so that ``GET /users`` reads its exact
    ``total`` by primary key instead of counting every row.
    """

    __tablename__ = "user_count"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int]


row_count.attach(UserCount.__table__, User.__table__)


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


class RevokedToken(db.Model):
    """A logged-out or refreshed-away access token, kept until it would expire.

    Checked on every request by primary key in the same query that loads the
    user (idm/auth.py), so a logout holds on every worker and host at once. Rows
    past ``expires_at`` prove nothing any more (the token is expired anyway)
    and are pruned.
    """

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


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


def admin_exists():
    return db.session.scalar(select(exists().where(User.admin)))
