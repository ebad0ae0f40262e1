"""Delivering the outbox: over SMTP (smtp.py), or, in development, to the log.

Also mail's health for /status: whether the server can be reached, from a
check of its own (connect, EHLO, NOOP, QUIT) that a sender makes at most
every IDM_MAIL_CHECK_SECONDS, whichever sender's turn it is. The result is
one row in the database, so every worker and host reports the same, and
/status reads it by primary key. Not the outcome of deliveries: a server
that refuses one recipient (550 no such user) is up, and /status must not
tell an anonymous caller that the latest /iforgot went to an address the
server refused.
"""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .. import clock
from ..config import is_development
from ..logs import one_line
from ..models import MailCheck, db
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


def check_server_if_due():
    """Check the mail server when no sender has for IDM_MAIL_CHECK_SECONDS.

    The turn is taken with one conditional UPDATE (or the first INSERT), so
    of all senders only one checks per interval. Called by every sender round.
    """
    if not current_app.config["MAIL_SERVER"]:
        return
    now = clock.now()
    due = now - timedelta(seconds=current_app.config["IDM_MAIL_CHECK_SECONDS"])
    # Read first: a sender looks every few seconds and after every queued
    # email, and an UPDATE would take SQLite's write lock each time.
    last = db.session.scalar(select(MailCheck.checked_at).where(MailCheck.id == 1))
    db.session.rollback()
    if last is not None and last > due:
        return
    turn = (
        update(MailCheck)
        .where(MailCheck.id == 1, MailCheck.checked_at <= due)
        .values(checked_at=now)
        .execution_options(synchronize_session=False)
    )
    try:
        mine = db.session.execute(turn).rowcount == 1
        if not mine and db.session.get(MailCheck, 1) is None:
            db.session.execute(insert(MailCheck).values(id=1, checked_at=now))
            mine = True
        db.session.commit()
    except IntegrityError:  # another sender inserted the row first: its turn
        db.session.rollback()
        return
    if mine:
        record_check(check_server())


def check_server():
    """None when MAIL_SERVER answers as for a delivery (TLS, login, NOOP), else why not.

    Plain smtplib (70 KiB), not Flask-Mail (smtp.py, 0.5 MiB more): every
    sender may take a turn, and most never deliver. Sends no mail and names
    no recipient.
    """
    import smtplib

    config = current_app.config
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    try:
        with smtp_class(
            config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["IDM_MAIL_TIMEOUT"]
        ) as server:
            server.ehlo()
            if config["MAIL_USE_TLS"]:
                server.starttls()
            if config["MAIL_USERNAME"] and config["MAIL_PASSWORD"]:
                server.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            code, answer = server.noop()
            if code != 250:
                raise smtplib.SMTPResponseException(code, answer)
    except Exception as error:  # any failure to talk to the server is the answer
        log.warning("mail server check failed: %s", one_line(error))
        return one_line(error)
    return None


def record_check(problem):
    statement = (
        update(MailCheck)
        .where(MailCheck.id == 1)
        .values(checked_at=clock.now(), problem=problem)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(statement)
    db.session.commit()


def problem():
    """Why mail cannot be delivered right now, or None when it can (or is not known to fail).

    The latest server check's error, one line (shown to admins on /status).
    Without MAIL_SERVER, development writes mail to the log, which always
    works; anywhere else no mail can leave. When the check's row cannot be
    read, the database part of /status reports the outage; /status must not
    fail either.
    """
    if not current_app.config["MAIL_SERVER"]:
        return None if is_development(current_app) else NO_SERVER
    try:
        return db.session.scalar(select(MailCheck.problem).where(MailCheck.id == 1))
    except SQLAlchemyError as error:
        db.session.rollback()
        log.info("mail status unknown, the check cannot be read: %s", one_line(error))
        return None
