"""Delivering the outbox: over SMTP (smtp.py), or to the log without MAIL_SERVER."""

import logging

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from ..config import is_development
from ..logs import one_line
from ..models import db
from . import outbox

log = logging.getLogger(__name__)


def send_queued():
    """Deliver what is due in the outbox; returns (sent, failed)."""
    return outbox.process_due(deliver)


class NoMailServer(RuntimeError):
    """Outside development, mail without MAIL_SERVER is not sent, and not logged either."""


def deliver(message):
    """Send one outbox row, or write it to the log in development without a server."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        if not is_development(current_app):
            # Its text holds a working reset link: never into a production
            # log. It waits in the outbox, and /status says mail is down.
            raise NoMailServer("MAIL_SERVER is not set")
        # Development: the link must reach the developer somehow. WARNING,
        # so that it shows with Python's default logging too.
        log.warning(
            "MAIL_SERVER is not set, so this email was written here instead of sent: "
            "To: %s | Subject: %s | %s",
            message.recipient,
            message.subject,
            " ".join(message.text_body.split()),
            extra={"development_mail": True},
        )
        return
    from . import smtp  # Flask-Mail: only in a process that delivers (smtp.py)

    smtp.send(message)


def problem():
    """Why mail cannot be delivered right now, or None when it can.

    "Cannot" means the latest delivery attempt failed; the answer is that
    attempt's error, one line (shown to admins on /status). When the outbox
    cannot be read, the database part of /status reports the outage; mail
    itself is not known to fail, and /status must not fail either.
    """
    try:
        return outbox.last_failure()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.info("mail status unknown, the outbox cannot be read: %s", one_line(error))
        return None
