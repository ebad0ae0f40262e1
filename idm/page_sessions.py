"""The pages' sessions, kept in the database: start, find, list and end them.

Why in the database rather than only in a signed cookie: a cookie that
carries the whole session stays valid wherever it is copied until it
expires. Here the cookie carries a random secret (idm/sessions.py puts it
in Flask's signed session cookie) and the table holds its SHA-256, so

* signing out deletes the row, and a copied cookie dies with it;
* a password change, a demotion or "sign out everywhere" ends every session
  of that user for good, and the browser is told why (``end_all``); promoting
  the user again revives nothing; deleting the user deletes its rows;
* an admin can list a user's sessions and end them one by one or all;
* it holds on every worker and host at once: each page view reads the row.

A session ends absolutely ``PERMANENT_SESSION_LIFETIME`` seconds after sign-in,
and after ``IDM_SESSION_IDLE_TIMEOUT`` seconds without a page view.
The secret has 256 random bits and is looked up *by* its hash, so the lookup's
timing tells nothing about stored secrets (as for reset links, reset.py).
"""

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import delete, or_, select, update

from . import audit, clock
from .models import PageSession, User, db
from .throttle import client_ip

# last_seen moves at most this often: a page view then costs no write,
# and the idle limit is exact to the minute.
TOUCH_SECONDS = 60
# What a browser is told when its session ended for one of these reasons.
PASSWORD_CHANGED = "your password was changed"
ADMIN_REVOKED = "you are no longer an admin"
SIGNED_OUT_EVERYWHERE = "you were signed out everywhere"
ENDED_BY_ADMIN = "an admin ended your session"


def hash_secret(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def start(user):
    """A new session of *user*, committed; returns the secret for the cookie."""
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    row = PageSession(
        secret_hash=hash_secret(secret),
        user_id=user.id,
        created=now,
        last_seen=now,
        expires=now + current_app.permanent_session_lifetime,
    )
    if has_request_context():
        row.ip = client_ip()
        row.user_agent = (request.user_agent.string or "")[:300] or None
    prune()  # on sign-in, so the table holds little more than live sessions
    db.session.add(row)
    db.session.commit()
    return secret


def find(secret):
    """``(user, None)`` for the session of *secret*, or ``(None, why it ended)``.

    A session that ended, or is past its limits, is deleted on the way. A
    live one has its ``last_seen`` moved forward (at most every
    TOUCH_SECONDS) and committed.
    """
    now = clock.now()
    found = db.session.execute(
        select(PageSession, User)
        .join(User, User.id == PageSession.user_id)
        .where(PageSession.secret_hash == hash_secret(secret))
    ).first()
    if found is None:
        return None, "your session has ended"
    row, user = found
    problem = why_ended(row, now)
    if problem is None:
        if now - row.last_seen >= timedelta(seconds=TOUCH_SECONDS):
            row.last_seen = now
            db.session.commit()
        return user, None
    db.session.delete(row)
    db.session.commit()
    return None, problem


def why_ended(row, now):
    if row.ended_reason:
        return row.ended_reason
    if now >= row.expires:
        return "your session expired"
    idle = idle_timeout()
    if now - row.last_seen >= idle:
        return (
            f"your session ended after {round(idle.total_seconds() / 60)} minutes without activity"
        )
    return None


def end(secret):
    """Sign out: the session of *secret* is gone, for every copy of its cookie."""
    db.session.execute(delete(PageSession).where(PageSession.secret_hash == hash_secret(secret)))
    db.session.commit()


def end_all(user_id, reason):
    """Every session of that user ends, for good; part of the caller's transaction.

    The rows stay, marked with *reason*, until each browser has been told
    (``find``) or the session would have ended anyway (``prune``); a marked
    row never becomes live again, whatever happens to the account later.
    """
    db.session.execute(
        update(PageSession)
        .where(PageSession.user_id == user_id, PageSession.ended_reason.is_(None))
        .values(ended_reason=reason)
    )


def active(user):
    """The live sessions of *user*, newest first."""
    now = clock.now()
    query = select(PageSession).where(
        PageSession.user_id == user.id,
        PageSession.ended_reason.is_(None),
        PageSession.expires > now,
        PageSession.last_seen > now - idle_timeout(),
    )
    return list(db.session.scalars(query.order_by(PageSession.created.desc())))


def end_for(user, session_id=None):
    """An admin ends one session of *user* (by its id) or all; False when none was live."""
    statement = update(PageSession).where(
        PageSession.user_id == user.id, PageSession.ended_reason.is_(None)
    )
    if session_id is not None:
        statement = statement.where(PageSession.id == session_id)
    ended = db.session.execute(statement.values(ended_reason=ENDED_BY_ADMIN)).rowcount
    if ended:
        audit.record("session.end", target=user)
    db.session.commit()
    return bool(ended)


def prune():
    """Delete sessions past their limits; returns how many (part of the transaction)."""
    now = clock.now()
    stale = or_(PageSession.expires <= now, PageSession.last_seen <= now - idle_timeout())
    return db.session.execute(delete(PageSession).where(stale)).rowcount


def idle_timeout():
    return timedelta(seconds=current_app.config["IDM_SESSION_IDLE_TIMEOUT"])
