"""Counting events per key in a time window, in the database.

Failed logins and reset requests are limited per account and per client IP.
The rows live in the shared database, so every gunicorn worker and every
host behind the load balancer sees the same counts.
"""

from datetime import timedelta

from flask import request
from sqlalchemy import delete, func, select

from . import clock
from .models import Attempt, db


def client_ip():
    """The caller's address, as ProxyFix (IDM_PROXY_COUNT) vouches for it."""
    return request.remote_addr or "unknown"


def record(kind, key):
    """Count one event; part of the caller's transaction."""
    db.session.add(Attempt(kind=kind, key=key, at=clock.now()))


def count(kind, key, window_seconds):
    since = clock.now() - timedelta(seconds=window_seconds)
    query = select(func.count()).where(Attempt.kind == kind, Attempt.key == key)
    return db.session.scalar(query.where(Attempt.at > since))


def summary(kind, key, window_seconds):
    """``(count, newest)`` of the events in the window; ``(0, None)`` when none."""
    return summaries(kind, [key], window_seconds).get(key, (0, None))


def summaries(kind, keys, window_seconds):
    """``{key: (count, newest)}`` for the *keys* with events in the window, in one query."""
    since = clock.now() - timedelta(seconds=window_seconds)
    query = select(Attempt.key, func.count(), func.max(Attempt.at))
    query = query.where(Attempt.kind == kind, Attempt.key.in_(keys), Attempt.at > since)
    rows = db.session.execute(query.group_by(Attempt.key))
    return {key: (count, newest) for key, count, newest in rows}


def clear(kind, key):
    db.session.execute(delete(Attempt).where(Attempt.kind == kind, Attempt.key == key))


def prune(older_than_seconds):
    """Delete events older than any window still in use; returns how many."""
    cutoff = clock.now() - timedelta(seconds=older_than_seconds)
    return db.session.execute(delete(Attempt).where(Attempt.at < cutoff)).rowcount
