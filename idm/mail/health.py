"""Mail's health for /status: the server's own check, and mail left waiting.

Mail is "ok" only when both hold:

* **the server answers**: a check of its own (connect, TLS and login as
  configured, NOOP, QUIT), made by whichever sender's turn it is, every
  IDM_MAIL_CHECK_SECONDS while all is well and every IDM_MAIL_POLL_SECONDS
  while the last check failed or mail waits. Not the outcome of deliveries:
  a server that refuses one recipient (550 no such user) is up, and /status
  must not tell an anonymous caller that the latest /iforgot went to an
  address the server refused.
* **nothing is stuck**: no email has waited longer than
  IDM_MAIL_STUCK_SECONDS since it was queued, whatever the latest check
  said. A server that came back is "ok" only once the mail it owes is out.

The check's result is one row in the database (``mail_check``), so every
worker and host reports the same. A successful check also ends the back-off
of every waiting email (``outbox.hurry``): once the server answers again,
mail queued during the outage goes out within a sender round, not after a
back-off of up to IDM_MAIL_RETRY_MAX_SECONDS.
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
from .delivery import NO_SERVER

log = logging.getLogger(__name__)


def check_if_due():
    """Check the mail server when it is this sender's turn; called by every sender round.

    The turn is taken with one conditional UPDATE (or the first INSERT), so
    of all senders only one checks per interval.
    """
    if not current_app.config["MAIL_SERVER"]:
        return
    now = clock.now()
    # Read first: a sender looks every few seconds and after every queued
    # email, and an UPDATE would take SQLite's write lock each time.
    last = db.session.execute(
        select(MailCheck.checked_at, MailCheck.problem).where(MailCheck.id == 1)
    ).first()
    waiting, _ = outbox.waiting()
    db.session.rollback()
    due = now - timedelta(seconds=interval(last is not None and last.problem, waiting))
    if last is not None and last.checked_at > due:
        return
    if take_turn(now, due):
        record(check_server())


def interval(failing, waiting):
    """Seconds between checks: short while the server failed or mail waits for it."""
    config = current_app.config
    if failing or waiting:
        return min(config["IDM_MAIL_POLL_SECONDS"], config["IDM_MAIL_CHECK_SECONDS"])
    return config["IDM_MAIL_CHECK_SECONDS"]


def take_turn(now, due):
    """Whether this sender checks now: one conditional UPDATE decides among all."""
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
        return False
    return mine


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


def record(problem):
    """Store a check's outcome; a server that answers ends the waiting back-offs."""
    statement = (
        update(MailCheck)
        .where(MailCheck.id == 1)
        .values(checked_at=clock.now(), problem=problem)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(statement)
    if problem is None:
        hurried = outbox.hurry()
        if hurried:
            log.info("mail server answers again: %d waiting emails are due now", hurried)
    db.session.commit()


def problem():
    """Why mail is not "ok" right now (one line, for admins), or None.

    Without MAIL_SERVER, development writes mail to the log, which always
    works; anywhere else no mail can leave. When the database cannot be
    read, the database part of /status reports the outage; mail itself is
    not known to fail, and /status must not fail either.
    """
    if not current_app.config["MAIL_SERVER"]:
        return None if is_development(current_app) else NO_SERVER
    try:
        checked = db.session.scalar(select(MailCheck.problem).where(MailCheck.id == 1))
        depth, oldest = outbox.waiting()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.info("mail status unknown, the database cannot be read: %s", one_line(error))
        return None
    if checked:
        return checked
    stuck = current_app.config["IDM_MAIL_STUCK_SECONDS"]
    if oldest is not None and (clock.now() - oldest).total_seconds() > stuck:
        return f"{depth} emails waiting, the oldest for more than {stuck} seconds"
    return None


def queue():
    """``{"depth", "oldest_age_seconds"}`` of the outbox, for admins on /status."""
    depth, oldest = outbox.waiting()
    age = (clock.now() - oldest).total_seconds() if oldest is not None else 0
    return {"depth": depth, "oldest_age_seconds": round(age)}
