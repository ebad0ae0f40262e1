"""The audit log's table."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .. import clock
from .base import UTCDateTime, db, iso


class AuditEvent(db.Model):
    """Append-only record of who did what. No API updates or deletes rows.

    Actor and target are plain ids, not foreign keys, so the record of a
    deleted user outlives the user; the target's username is kept as well.
    Events of a study's subject and its links name the subject by its
    ``sssid`` and say what changed in ``detail`` (idm/study/).
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
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[str | None] = mapped_column(Text)

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
            "subject": self.subject,
            "detail": self.detail,
        }
