"""Composing and delivering emails. Without MAIL_SERVER they go to the log.

Requests never talk SMTP: they ``compose`` a letter and put it in the
outbox (outbox.py) in their own transaction; ``send_queued`` (run by
sender.py) delivers it later over SMTP (smtp.py).
"""

import logging
from typing import NamedTuple

from flask import current_app, render_template
from sqlalchemy.exc import SQLAlchemyError

from . import outbox
from .models import db

log = logging.getLogger(__name__)


class Letter(NamedTuple):
    subject: str
    text: str
    html: str


def init_app(app):
    if not app.config["MAIL_SERVER"] and not (app.debug or app.testing):
        log.warning("MAIL_SERVER is not set: emails (reset links!) go to this log, not to people")


def compose(template, subject_setting, **context):
    """Render templates/email/<template>.txt and .html into a Letter.

    The subject comes from the setting *subject_setting*, in which
    "{product}" stands for IDM_PRODUCT_NAME.
    """
    product = current_app.config["IDM_PRODUCT_NAME"]
    subject = current_app.config[subject_setting].format(product=product)
    context.update(product=product, subject=subject)
    return Letter(
        subject=subject,
        text=render_template(f"email/{template}.txt", **context),
        html=render_template(f"email/{template}.html", **context),
    )


def send_queued():
    """Deliver what is due in the outbox; returns (sent, failed)."""
    return outbox.process_due(deliver)


def deliver(message):
    """Send one outbox row, or write it to the log when no server is set."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        # Development: the link must reach the developer somehow. WARNING,
        # so that it shows with Python's default logging too.
        log.warning(
            "MAIL_SERVER is not set, so this email was written here instead of sent:\n"
            "To: %s\nSubject: %s\n\n%s",
            message.recipient,
            message.subject,
            message.text_body,
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
        log.info("mail status unknown, the outbox cannot be read: %s", outbox.short_error(error))
        return None
