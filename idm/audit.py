"""The audit log: one row per security-relevant action, never changed.

``record`` adds the row to the current session, so it commits (or rolls
back) with the change it describes: no action without its record, and no
record of an action that did not happen. Failures that change nothing
(a wrong password) are recorded and committed by the caller on purpose.
"""

from datetime import timedelta

from flask import g, has_request_context, request
from sqlalchemy import delete, func, or_, select
from werkzeug.exceptions import BadRequest

from . import clock
from .models import AuditEvent, User, db
from .throttle import client_ip
from .validation import comparable_username, username_key

ACTIONS = {
    "init",
    "login",
    "refresh",
    "logout",
    "user.create",
    "user.delete",
    "user.update",
    "admin.grant",
    "admin.revoke",
    "password.change",
    "reset.request",
    "reset.complete",
    "lockout",
    "unlock",
    "key.create",
    "key.reseal",
}


def record(action, target=None, outcome="ok", actor=None):
    """Append one event. *actor* defaults to the authenticated caller."""
    event = AuditEvent(**event_values(action, target, outcome, actor))
    db.session.add(event)
    return event


def event_values(action, target=None, outcome="ok", actor=None):
    """The columns of one event, for ``record`` or for an INSERT on a connection
    of its own (a change made outside the session, such as a new signing key)."""
    assert action in ACTIONS, action
    if actor is None:
        actor = current_actor()
    values = {
        "at": clock.now(),  # via the module, so tests can move the clock
        "action": action,
        "outcome": outcome,
        "actor_id": actor.id if actor is not None else None,
        "target_id": target.id if target is not None else None,
        "target_name": target.username if target is not None else None,
        "ip": None,
        "user_agent": None,
    }
    if has_request_context():
        values["ip"] = client_ip()
        values["user_agent"] = (request.user_agent.string or "")[:300] or None
    return values


def check_action(action):
    """*action* as a filter: one of ACTIONS, or None for any."""
    if action and action not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        raise BadRequest(f"unknown action {action!r}; known actions: {known}")
    return action


def current_actor():
    """The authenticated caller, or None (anonymous, or the CLI on the host)."""
    return g.get("user") if has_request_context() else None


def search(user, action, offset, perpage):
    """One page of events, newest first, and the total that match.

    *user* is an id or a username and matches actor or target.
    """
    query = select(AuditEvent)
    if user:
        ids = ids_of(user)
        query = query.where(or_(AuditEvent.actor_id.in_(ids), AuditEvent.target_id.in_(ids)))
    if action:
        query = query.where(AuditEvent.action == action)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    newest_first = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    return list(db.session.scalars(newest_first.offset(offset).limit(perpage))), total


def ids_of(user):
    """*user* (it may be an id) and the ids of every account that had that username.

    Rows name the actor by id only; the ids come from the users table and
    from the rows that named the account as target (its creation at least),
    so the history of a deleted user stays findable by name.
    """
    ids = {user}
    ids.update(db.session.scalars(select(User.id).where(User.username_key == username_key(user))))
    name = comparable_username(user)
    named = select(AuditEvent.target_id).where(AuditEvent.target_name == name).distinct()
    ids.update(db.session.scalars(named))
    ids.discard(None)
    return ids


def prune(retention_days):
    """Delete events older than the retention period; returns how many."""
    cutoff = clock.now() - timedelta(days=retention_days)
    return db.session.execute(delete(AuditEvent).where(AuditEvent.at < cutoff)).rowcount
