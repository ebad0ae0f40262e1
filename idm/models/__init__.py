"""The tables of the service, one module per area. Business rules live above, not here."""

from .accounts import Attempt, ResetToken, RevokedToken, Setup, User, UserCount, admin_exists
from .audit import AuditEvent
from .base import UTCDateTime, db, iso, new_id, tune_sqlite
from .keys import SigningKey
from .outbox import MailCheck, OutboxMessage
from .sessions import PageSession
from .study import Link, Subject, SubjectCount

__all__ = [
    "Attempt",
    "AuditEvent",
    "Link",
    "MailCheck",
    "OutboxMessage",
    "PageSession",
    "ResetToken",
    "RevokedToken",
    "Setup",
    "SigningKey",
    "Subject",
    "SubjectCount",
    "UTCDateTime",
    "User",
    "UserCount",
    "admin_exists",
    "db",
    "iso",
    "new_id",
    "tune_sqlite",
]
