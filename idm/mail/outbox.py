"""The outbox: emails wait in the database until a sender delivers them.

Why a table instead of talking SMTP inside the request: the page answers at
once, and the same way whether the mail server is up or down; a message
survives a restart of the service; a failed delivery is retried later with
exponential back-off, and the log says when delivery is failing.

Why two senders never send one row at the same time: a sender first claims
the row with one conditional UPDATE (``claim``) that only one transaction
can win. SQLite runs writers one at a time; PostgreSQL makes the second
UPDATE wait for the first one's row lock and then re-checks the WHERE
clause. The claim lasts ``claim_seconds()``, longer than an SMTP
conversation may take, so a sender that dies mid-send frees its row later.
Delivery is therefore at least once: only a sender killed between the
server's "250 OK" and the UPDATE that marks the row sent causes a repeat.

Why a copy of the database holds no working reset link: bodies are stored
sealed (idm/crypto.py, AES-GCM with a key derived from SECRET_KEY, bound
to the recipient), so neither a queued nor a sent message can be read
without settings.py; a delivered message's bodies are wiped, and SQLite
overwrites freed pages (secure_delete, idm/models/base.py). A message
sealed under an earlier SECRET_KEY cannot be opened any more: it is
dropped with a log line (DEPLOY.md, "Rotating SECRET_KEY").
"""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, exists, func, or_, select, update

from .. import clock, crypto, metrics
from ..logs import one_line
from ..models import OutboxMessage, db
from .compose import Letter

log = logging.getLogger(__name__)

# How many messages one call of process_due handles at most, so that one
# round never runs for ever while others keep adding mail.
ROUND_LIMIT = 200
# Set in a session's info by enqueue: its commit wakes the sender (idm/mail/__init__.py).
QUEUED = "idm_mail_queued"
SEAL_PURPOSE = "outbox"


def enqueue(recipient, letter, expires=None):
    """Add *letter* (see compose.py) for *recipient* to the caller's transaction.

    The commit of that transaction wakes this process's sender.

    *expires*: when the message is useless (a reset link's end); never later
    than IDM_MAIL_GIVE_UP_SECONDS from now.
    """
    now = clock.now()
    give_up = now + timedelta(seconds=current_app.config["IDM_MAIL_GIVE_UP_SECONDS"])
    message = OutboxMessage(
        recipient=recipient,
        subject=letter.subject,
        text_body=seal(recipient, "text", letter.text),
        html_body=seal(recipient, "html", letter.html),
        created=now,
        next_attempt_at=now,
        expires=min(expires, give_up) if expires is not None else give_up,
    )
    db.session.add(message)
    wake_after_commit()
    return message


def enqueue_stand_in(letter):
    """The row /iforgot writes for an unknown address, in place of ``enqueue``.

    The same INSERT with a letter sealed the same way, so that a request for
    an unknown address does the work of a known one; it has no recipient and
    is born sent, so nothing ever delivers it, and it is pruned with the
    other sent rows. The commit wakes the sender as ``enqueue``'s does.
    """
    message = enqueue("", letter)
    message.sent_at = message.created
    return message


def wake_after_commit():
    """Have the commit of the current transaction wake this process's sender."""
    db.session.info[QUEUED] = True


def seal(recipient, part, body):
    # Bound to the recipient and the part: a sealed body moved to another
    # row or swapped with the other part no longer opens.
    context = f"{recipient}\x00{part}"
    return crypto.seal(SEAL_PURPOSE, body.encode(), context=context)


def letter_of(message):
    """The Letter in *message*; ``crypto.Unreadable`` when sealed under another key."""

    def unseal(part, body):
        context = f"{message.recipient}\x00{part}"
        return crypto.unseal(SEAL_PURPOSE, body, context=context).decode()

    text = unseal("text", message.text_body)
    return Letter(message.subject, text, unseal("html", message.html_body))


class Undeliverable(Exception):
    """Raised by a *deliver* function when the message can never be delivered:
    the server refused its recipient for good ("550 no such user")."""


def process_due(deliver):
    """Claim and deliver due messages one by one; returns (sent, failed).

    *deliver(recipient, letter)* sends one message or raises. The first failure ends
    the round: when the server is down, trying the other rows now would only
    wait for more timeouts. Every row keeps its own back-off. A recipient the
    server refuses for good (``Undeliverable``) is dropped, and the round goes on.
    """
    drop_expired()
    sent = failed = 0
    for _ in range(ROUND_LIMIT):
        message_id = next_due_id()
        if message_id is None:
            break
        message = claim(message_id)
        if message is None:
            continue  # another sender was faster; look again
        try:
            letter = letter_of(message)
        except crypto.Unreadable:
            drop_unreadable(message)
            continue
        try:
            deliver(message.recipient, letter)
        except Undeliverable as error:
            # Retrying cannot help, and a message that waited for ever would
            # keep /status "unavailable" (health.py) for this one recipient.
            drop_undeliverable(message, error)
            failed += 1
            continue  # the server is up: on with the others
        except Exception as error:  # any other failure to send is retried later
            record_failure(message, error)
            failed += 1
            break
        record_success(message)
        sent += 1
    return sent, failed


def due_condition(now):
    return (
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        OutboxMessage.expires > now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


def next_due_id():
    now = clock.now()
    query = select(OutboxMessage.id).where(*due_condition(now))
    return db.session.scalar(query.order_by(OutboxMessage.next_attempt_at).limit(1))


def claim_seconds():
    # An SMTP conversation is a handful of network operations, each bounded
    # by IDM_MAIL_TIMEOUT; the claim must outlast all of them.
    return 10 * current_app.config["IDM_MAIL_TIMEOUT"]


def claim(message_id):
    """Take the row for this sender, or None when another sender holds it."""
    now = clock.now()
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, *due_condition(now))
        .values(claimed_until=now + timedelta(seconds=claim_seconds()))
        .execution_options(synchronize_session=False)
    )
    won = db.session.execute(statement).rowcount == 1
    db.session.commit()
    return db.session.get(OutboxMessage, message_id) if won else None


def record_success(message):
    metrics.DELIVERIES.labels("sent").inc()
    now = clock.now()
    # The body of a reset email holds a live link: once delivered it has no
    # reason to stay in the database in the clear.
    finish(
        message,
        sent_at=now,
        last_attempt_at=now,
        last_error=None,
        text_body="",
        html_body="",
    )


def record_failure(message, error):
    metrics.DELIVERIES.labels("failed").inc()
    now = clock.now()
    attempts = message.attempts + 1
    summary = one_line(error)
    log.warning(
        "mail to %s failed (attempt %d), retrying later: %s", message.recipient, attempts, summary
    )
    finish(
        message,
        last_attempt_at=now,
        last_error=summary,
        next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts)),
    )


def finish(message, **values):
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(claimed_until=None, attempts=OutboxMessage.attempts + 1, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(statement)
    db.session.commit()


def drop_undeliverable(message, error):
    metrics.DELIVERIES.labels("refused").inc()
    log.error(
        "mail to %s refused by the server for good, dropped: %s", message.recipient, one_line(error)
    )
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.id == message.id))
    db.session.commit()


def drop_unreadable(message):
    """Delete a message whose bodies this SECRET_KEY cannot open (it was rotated)."""
    log.error(
        "mail to %s dropped: it was sealed under an earlier SECRET_KEY and cannot be"
        " read any more (a reset link: the user asks again)",
        message.recipient,
    )
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.id == message.id))
    db.session.commit()


def backoff_seconds(attempts):
    """Seconds to wait after the *attempts*-th failure: doubling, capped."""
    config = current_app.config
    first, cap = config["IDM_MAIL_RETRY_FIRST_SECONDS"], config["IDM_MAIL_RETRY_MAX_SECONDS"]
    return min(cap, first * 2 ** min(attempts - 1, 30))


def drop_expired():
    """Forget messages that are too old to matter, delivered or not."""
    now = clock.now()
    stale = OutboxMessage.sent_at.is_(None) & (OutboxMessage.expires <= now)
    # Sent rows (bodies already wiped) are kept as long, for /status and for
    # looking back.
    keep = timedelta(seconds=current_app.config["IDM_MAIL_GIVE_UP_SECONDS"])
    old = OutboxMessage.sent_at < now - keep
    # Read first: a sender polls often, and a DELETE would take the write
    # lock each time even when there is nothing to delete.
    if not db.session.scalar(select(exists().where(stale | old))):
        return
    for message in db.session.scalars(select(OutboxMessage).where(stale)):
        metrics.DELIVERIES.labels("dropped").inc()
        log.error(
            "mail to %s dropped undelivered after %d attempts: %s",
            message.recipient,
            message.attempts,
            message.last_error or "never tried",
        )
    db.session.execute(delete(OutboxMessage).where(stale | old))
    db.session.commit()


def waiting():
    """``(how many, when the oldest was queued)`` of the emails not yet sent."""
    unsent = select(func.count(), func.min(OutboxMessage.created)).where(
        OutboxMessage.sent_at.is_(None)
    )
    depth, oldest = db.session.execute(unsent).one()
    return depth, oldest


def hurry():
    """End the back-off of every waiting email (the server answers again); how many.

    Part of the caller's transaction. Wakes no sender: the caller is one,
    and the next round of every other finds them due.
    """
    now = clock.now()
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at > now)
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(statement).rowcount


def latest_error():
    """The error of the latest delivery attempt when it failed, else None (for the CLI)."""
    latest = db.session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.last_attempt_at.is_not(None))
        .order_by(OutboxMessage.last_attempt_at.desc())
        .limit(1)
    )
    if latest is None or latest.sent_at is not None:
        return None
    return latest.last_error or "the last delivery attempt failed"
