"""Password-reset links: ask for one, check one, use one.

Why this is safe:

* A token is ``secrets.token_urlsafe(32)``: 256 random bits, so guessing
  one is hopeless, and there is no dictionary to try against its hash.
* Only the token's SHA-256 is stored; a copy of the database (a backup, a
  read-only leak) holds no usable link. Tokens are looked up *by* hash: an
  attacker cannot steer the hash of a guess towards a stored one, so the
  timing of that lookup tells nothing (the effect of a constant-time compare).
  The email that carries the link waits in the outbox sealed with a key
  derived from SECRET_KEY and is wiped once delivered (mail/outbox.py).
* One live link per account: ResetToken's key is the user id, so a new
  request replaces the older link.
* Single use: ``complete_reset`` deletes the row with a DELETE that only one
  of two racing requests can win, in the transaction that sets the password.
* Dead as soon as the password changes by any means: users.set_password
  deletes the user's row in the same transaction; as a second guard, a
  token created before ``user.tokens_valid_after`` is refused.
* Expires IDM_RESET_TOKEN_LIFETIME seconds after it was made, by clock.now().
* The link's host comes from IDM_PUBLIC_URL or SERVER_NAME, else from the
  request as ProxyFix vouches for it (IDM_PROXY_COUNT); check_config insists
  on one of the first two outside development, so a forged Host header can
  never point a reset link at another site.
* No enumeration: see ``request_reset``.
"""

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple
from urllib.parse import urlencode

from flask import current_app, request
from sqlalchemy import delete, insert, literal, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest

from . import audit, clock, metrics, throttle, users
from .mail import outbox
from .mail.compose import Letter, compose
from .models import ResetToken, User, UTCDateTime, db, new_id
from .validation import check_password, check_repeated, normalize_username, username_key

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
LONGEST_KEY = 128  # token_urlsafe(32) is 43 characters; anything far longer is junk
HOUR = 60 * 60
ACCOUNT_KIND, IP_KIND = "reset.account", "reset.ip"

MISSING = "This page needs the link from your reset email, and this one has no key."
UNKNOWN = (
    "This reset link is not valid: it was already used, a newer link replaced it,"
    " or it was copied incompletely."
)
EXPIRED = "This reset link has expired."
REVOKED = "This reset link is no longer valid: the password was changed after it was sent."


class BadLink(BadRequest):
    """The key is missing, unknown, used, expired or revoked."""


def hash_token(token):
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def request_reset(raw_username):
    """Queue a reset email when the account exists; the caller cannot tell whether it does.

    Returns the normalized address, as typed: the page must not show the
    account's own (a look-alike finds the account it imitates, and the mail
    goes to that account's stored address, never to the one typed).

    Same answer: the page shows the same text and status in every case
    (invalid input aside, which says nothing about accounts).
    Same work: both cases count the request (two throttle rows), look the
    account up, make a token, render and seal the email, and run the same
    statements in the same order (store_and_queue): delete the account's
    older link, insert the new one (for an unknown address an INSERT …
    SELECT of no row), write one outbox row (for an unknown address a
    stand-in that is never sent, outbox.enqueue_stand_in) and one audit
    row, and commit once; the commit wakes the sender in both cases, and
    only after the response has gone out (idm/mail/__init__.py).
    ``make bench`` measures the two against each other (docs/performance.md).
    Same limits: the per-account throttle counts by username_key, for
    unknown addresses too, so being throttled says nothing about existence
    and no look-alike spelling gets around it.
    """
    username = normalize_username(raw_username)
    key = username_key(username)
    ip = throttle.client_ip()
    if is_throttled(username, key, ip):
        metrics.RESET_REQUESTS.labels("throttled").inc()
        return username
    throttle.record(ACCOUNT_KIND, key)
    throttle.record(IP_KIND, ip)
    user = users.by_username(username)
    link = new_link(username)  # made for unknown addresses too: the same work
    metrics.RESET_REQUESTS.labels("unknown" if user is None else "known").inc()
    store_and_queue(user, link)
    if user is None:
        event = audit.record("reset.request", outcome="unknown-user")
        event.target_name = username  # who was asked for helps to spot probing
    else:
        audit.record("reset.request", target=user)
    commit_link(username)
    return username


def send_link(user):
    """An admin's "send reset link": no throttle, the admin is the one audited."""
    store_and_queue(user, new_link(user.username))
    audit.record("reset.request", target=user)
    commit_link(user.username)


class NewLink(NamedTuple):
    token: str
    created: datetime
    expires: datetime
    letter: Letter


def new_link(username):
    """A fresh token and the email that carries its link; nothing stored yet."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    lifetime = current_app.config["IDM_RESET_TOKEN_LIFETIME"]
    now = clock.now()
    letter = compose(
        "reset",
        "IDM_RESET_MAIL_SUBJECT",
        link=reset_link(token),
        username=username,
        lifetime=describe_seconds(lifetime),
    )
    return NewLink(token, now, now + timedelta(seconds=lifetime), letter)


def store_and_queue(user, link):
    """Make *link* the user's one live link (an older one dies) and queue its email.

    *user* None (an unknown address) runs the same statements on nothing:
    the DELETE matches no row, the INSERT of the link selects no row (no
    account to point it at), the email becomes a stand-in never sent.
    """
    user_id = user.id if user is not None else new_id()
    db.session.execute(delete(ResetToken).where(ResetToken.user_id == user_id))
    row = select(
        literal(user_id),
        literal(hash_token(link.token)),
        literal(link.created, UTCDateTime),
        literal(link.expires, UTCDateTime),
    )
    columns = ["user_id", "token_hash", "created", "expires"]
    db.session.execute(
        insert(ResetToken).from_select(columns, row.where(literal(user is not None)))
    )
    if user is None:
        outbox.enqueue_stand_in(link.letter)
        return
    # Always the stored address: never the spelling someone typed.
    outbox.enqueue(user.username, link.letter, link.expires)


def commit_link(username):
    try:
        db.session.commit()
    except IntegrityError:
        # PostgreSQL: a simultaneous request for the same account inserted
        # its token first; its email carries the live link.
        db.session.rollback()
        log.info("reset for %s: a simultaneous request won", username)


def is_throttled(username, key, ip):
    config = current_app.config
    per_account = config["IDM_RESET_MAX_PER_ACCOUNT_PER_HOUR"]
    per_ip = config["IDM_RESET_MAX_PER_IP_PER_HOUR"]
    if throttle.count(ACCOUNT_KIND, key, HOUR) >= per_account:
        log.warning("reset for %s throttled: %d emails in the last hour", username, per_account)
        return True
    if throttle.count(IP_KIND, ip, HOUR) >= per_ip:
        log.warning("reset from %s throttled: %d requests in the last hour", ip, per_ip)
        return True
    return False


def valid_token(key):
    """(ResetToken, User) for a usable *key*, or BadLink saying why it is not."""
    if not key:
        raise BadLink(MISSING)
    if len(key) > LONGEST_KEY:
        raise BadLink(UNKNOWN)
    token = db.session.scalar(select(ResetToken).where(ResetToken.token_hash == hash_token(key)))
    if token is None:
        raise BadLink(UNKNOWN)
    if token.expires <= clock.now():
        raise BadLink(EXPIRED)
    user = db.session.get(User, token.user_id)
    if user.tokens_valid_after is not None and token.created < user.tokens_valid_after:
        raise BadLink(REVOKED)
    return token, user


def complete_reset(token, user, password, repeated):
    """Set the new password and use the token up, in one transaction.

    *token* and *user* come from ``valid_token``. Bad passwords raise
    BadRequest and leave the link usable; a link used meanwhile raises BadLink.
    """
    check_repeated(password, repeated)
    check_password(password)
    # Of two requests with the same link, only one deletes the row.
    used = delete(ResetToken).where(
        ResetToken.user_id == user.id, ResetToken.token_hash == token.token_hash
    )
    if db.session.execute(used.execution_options(synchronize_session=False)).rowcount != 1:
        db.session.rollback()
        raise BadLink(UNKNOWN)
    users.set_password(user, password)  # older access tokens die with this
    notice = compose(
        "password_changed",
        "IDM_PASSWORD_CHANGED_MAIL_SUBJECT",
        username=user.username,
        when=clock.now(),
        iforgot_link=public_base_url() + "/iforgot",
    )
    outbox.enqueue(user.username, notice)
    audit.record("reset.complete", target=user)
    db.session.commit()
    return user


def public_base_url():
    """Scheme, host and path prefix that people use to reach the service."""
    config = current_app.config
    if config["IDM_PUBLIC_URL"]:
        return config["IDM_PUBLIC_URL"].rstrip("/")
    # SERVER_NAME is configured, so trusted; the bare request host is used
    # in development only (check_config). Scheme and host are as ProxyFix
    # rewrote them from exactly IDM_PROXY_COUNT trusted proxies.
    host = config["SERVER_NAME"] or request.host
    return f"{request.scheme}://{host}{request.script_root}"


def reset_link(token):
    return f"{public_base_url()}/reset?{urlencode({'k': token})}"


def describe_seconds(seconds):
    """7200 -> "2 hours", 5400 -> "90 minutes", 45 -> "45 seconds"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
