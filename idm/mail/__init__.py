"""Email: compose (templates), outbox (the table), sender (the thread), delivery and SMTP.

Requests never talk SMTP: they compose a letter and ``outbox.enqueue`` it in
their own transaction. When that transaction commits, the sender of this
process is woken (below), so the mail leaves at once; nobody has to
remember to wake it.
"""

import logging

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..config import is_development
from . import outbox, sender

log = logging.getLogger(__name__)


def init_app(app):
    if not app.config["MAIL_SERVER"] and not is_development(app):
        log.warning("MAIL_SERVER is not set: no email (reset links!) can be sent")
    sender.init_app(app)


@event.listens_for(Session, "after_commit")
def wake_sender_after_commit(session):
    """A commit that queued mail wakes this process's sender."""
    if session.info.pop(outbox.QUEUED, False) and has_app_context():
        sender.wake(current_app)


@event.listens_for(Session, "after_rollback")
def forget_queued_mail(session):
    # The queued rows are gone with the transaction: nothing to send.
    session.info.pop(outbox.QUEUED, None)
