"""Signed-in browsers: the pages' sessions, kept here so that they can be ended."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import UTCDateTime, db, iso, new_id


class PageSession(db.Model):
    """One signed-in browser of the HTML pages (idm/sessions.py says how it is used).

    The browser's cookie carries a random secret; only its SHA-256 is here,
    so a copy of the database cannot be turned into a cookie. Deleting the
    row (signing out) or setting ``ended_reason`` ends the session on every
    worker and host at once; deleting the user deletes its rows (ON DELETE
    CASCADE).
    """

    __tablename__ = "page_sessions"

    # What pages and the API call the session by; never the secret.
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    # Moved forward at most once a minute (sessions.TOUCH_SECONDS): the idle limit.
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    # created + PERMANENT_SESSION_LIFETIME: the absolute limit, however active.
    expires: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set when a password change, demotion or an admin ended the session: the
    # browser is told why at its next page view, then the row goes.
    ended_reason: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    def to_json(self):
        """What an admin sees of a session: never its secret or hash."""
        return {
            "id": self.id,
            "created": iso(self.created),
            "last_seen": iso(self.last_seen),
            "expires": iso(self.expires),
            "ip": self.ip,
            "user_agent": self.user_agent,
        }
