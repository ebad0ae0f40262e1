"""The outbox's table: emails waiting to be sent (idm/mail/outbox.py)."""

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .. import clock
from .base import UTCDateTime, db


class OutboxMessage(db.Model):
    """An email waiting to be sent, or sent (see idm/mail/outbox.py).

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


class MailCheck(db.Model):
    """The latest check of the mail server (idm/mail/delivery.py), in its one row (id 1).

    /status reads it instead of the outcome of the latest delivery, which a
    recipient refused by the server would turn into "unavailable" and so
    tell whether that address has an account.
    """

    __tablename__ = "mail_check"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None: the server answered; else the error, one line.
    problem: Mapped[str | None] = mapped_column(String(300))
