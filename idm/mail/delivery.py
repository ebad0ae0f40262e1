"""Delivering the outbox: over SMTP (smtp.py), or, in development, to the log."""

import logging

from flask import current_app

from ..config import is_development
from . import outbox

log = logging.getLogger(__name__)
NO_SERVER = "MAIL_SERVER is not set"


def send_queued():
    """Deliver what is due in the outbox; returns (sent, failed)."""
    return outbox.process_due(deliver)


class NoMailServer(RuntimeError):
    """Outside development, mail without MAIL_SERVER is not sent, and not logged either."""


def deliver(recipient, letter):
    """Send one letter, or write it to the log in development without a server."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        if not is_development(current_app):
            # Its text holds a working reset link: never into a production
            # log. It waits in the outbox, and /status says mail is down.
            raise NoMailServer(NO_SERVER)
        # Development: the link must reach the developer somehow. WARNING,
        # so that it shows with Python's default logging too; one line.
        log.warning(
            "MAIL_SERVER is not set, so this email was written here instead of sent: "
            "To: %s | Subject: %s | %s",
            recipient,
            letter.subject,
            " ".join(letter.text.split()),
            extra={"development_mail": True},
        )
        return
    from . import smtp  # Flask-Mail: only in a process that delivers (smtp.py)

    smtp.send(recipient, letter)
