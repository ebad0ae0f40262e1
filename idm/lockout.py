"""Brute-force protection: growing waits after failed logins and /init attempts.

Failures are counted with throttle.py in the shared database, so the limits
hold across gunicorn workers and hosts: per account (the normalized
username, whether or not such an account exists, so a 429 says nothing
about existence) and per client IP. Once a key has reached its threshold
within IDM_LOGIN_WINDOW it waits IDM_LOCKOUT_DELAY seconds after its newest
failure; each further failure doubles the wait, up to IDM_LOCKOUT_MAX_DELAY.

A locked login is refused before the password hash is computed, so
hammering a locked account costs the attacker a request and us no hashing.
Two requests arriving at the same instant may both pass the check; that
lets a few extra guesses through, never an unbounded number.
"""

import math
from datetime import timedelta

from flask import current_app
from werkzeug.exceptions import TooManyRequests

from . import audit, clock, metrics, throttle
from .models import db
from .validation import username_key

ACCOUNT = "login.account"
IP = "login.ip"
INIT = "init.ip"
# 2**32 times any delay exceeds any sensible cap; stops the number growing.
MAX_DOUBLINGS = 32


class Locked(TooManyRequests):
    """429 with ``Retry-After`` in whole seconds."""

    def __init__(self, what, seconds):
        message = f"too many {what}; try again in {seconds} seconds"
        super().__init__(message, retry_after=seconds)


def account_key(username):
    """The username as authenticate() looks it up, bounded to fit the column."""
    return username_key(username)[:254]


def lock_delay(failures_beyond_threshold):
    config = current_app.config
    doublings = min(failures_beyond_threshold, MAX_DOUBLINGS)
    return min(config["IDM_LOCKOUT_MAX_DELAY"], config["IDM_LOCKOUT_DELAY"] * 2**doublings)


def seconds_locked(kind, key, threshold):
    """Whole seconds *key* must still wait; 0 when it may try now."""
    failures, newest = throttle.summary(kind, key, current_app.config["IDM_LOGIN_WINDOW"])
    return seconds_to_wait(failures, newest, threshold)


def seconds_to_wait(failures, newest, threshold):
    """The lock rule: *failures* in the window, the *newest* at that moment."""
    if failures < threshold:
        return 0
    free_at = newest + timedelta(seconds=lock_delay(failures - threshold))
    return max(0, math.ceil((free_at - clock.now()).total_seconds()))


def locked_user_ids(users):
    """Ids of those *users* whose account is locked right now, in one query.

    The account lock only (what ``unlock`` clears), not their addresses':
    this answers "does this account need unlocking?".
    """
    config = current_app.config
    ids_by_key = {account_key(user.username): user.id for user in users}
    counts = throttle.summaries(ACCOUNT, list(ids_by_key), config["IDM_LOGIN_WINDOW"])
    threshold = config["IDM_LOGIN_ACCOUNT_THRESHOLD"]
    return {
        ids_by_key[key]
        for key, (failures, newest) in counts.items()
        if seconds_to_wait(failures, newest, threshold)
    }


def account_state(user):
    """``(failures, seconds)``: the failed logins of *user*'s account within
    IDM_LOGIN_WINDOW, and how long it must still wait (0: it may log in now)."""
    config = current_app.config
    key = account_key(user.username)
    failures, newest = throttle.summary(ACCOUNT, key, config["IDM_LOGIN_WINDOW"])
    return failures, seconds_to_wait(failures, newest, config["IDM_LOGIN_ACCOUNT_THRESHOLD"])


def login_waits(username):
    config = current_app.config
    return {
        "account": seconds_locked(
            ACCOUNT, account_key(username), config["IDM_LOGIN_ACCOUNT_THRESHOLD"]
        ),
        "ip": seconds_locked(IP, throttle.client_ip(), config["IDM_LOGIN_IP_THRESHOLD"]),
    }


def check_login(username):
    """Raise ``Locked`` while this username or the caller's address must wait.

    The same answer whether the account exists or not: unknown usernames
    are counted and locked exactly like real ones.
    """
    wait = max(login_waits(username).values())
    if wait:
        metrics.LOGINS.labels("locked").inc()
        raise Locked("failed logins", wait)


def login_failed(username, user):
    """Count one failed login; part of the caller's transaction.

    The check before hashing let this attempt through, so if the key is
    locked now, this failure started the lock: audit it (outcome says what
    was locked). *user* is None for an unknown username.
    """
    throttle.record(ACCOUNT, account_key(username))
    throttle.record(IP, throttle.client_ip())
    db.session.flush()
    for locked, wait in login_waits(username).items():
        if wait:
            metrics.LOCKOUTS.labels(locked).inc()
            audit.record("lockout", target=user if locked == "account" else None, outcome=locked)


def login_succeeded(username):
    # Only the account counter: clearing the IP counter too would let an
    # attacker with one valid account reset the limit for their address.
    throttle.clear(ACCOUNT, account_key(username))


def unlock(user):
    """Forget the failed logins of *user*'s account (not of any IP)."""
    throttle.clear(ACCOUNT, account_key(user.username))
    audit.record("unlock", target=user)


def count_init_attempt():
    """Refuse or count one POST /init from this address, committed at once.

    Every attempt counts, not only failures: each one hashes a password, and
    a guessed setup code must cost the guesser time. Committed on its own,
    so an attempt that fails and rolls back is still counted.
    """
    ip = throttle.client_ip()
    threshold = current_app.config["IDM_INIT_IP_THRESHOLD"]
    wait = seconds_locked(INIT, ip, threshold)
    if wait:
        metrics.THROTTLED.labels("init").inc()
        raise Locked("setup attempts", wait)
    throttle.record(INIT, ip)
    db.session.flush()
    if seconds_locked(INIT, ip, threshold):
        metrics.LOCKOUTS.labels("init").inc()
        audit.record("lockout", outcome="init")
    db.session.commit()
