"""The audit log: one row per security-relevant action, never changed.

``record`` adds the row to the current session, so it commits (or rolls
back) with the change it describes: no action without its record, and no
record of an action that did not happen. Failures that change nothing
(a wrong password) are recorded and committed by the caller on purpose.
"""

from flask import g, has_request_context, request

from .models import AuditEvent, db
from .throttle import client_ip

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
}


def record(action, target=None, outcome="ok", actor=None):
    """Append one event. *actor* defaults to the authenticated caller."""
    assert action in ACTIONS, action
    if actor is None and has_request_context():
        actor = g.get("user")
    event = AuditEvent(
        action=action,
        outcome=outcome,
        actor_id=actor.id if actor is not None else None,
        target_id=target.id if target is not None else None,
        target_name=target.username if target is not None else None,
    )
    if has_request_context():
        event.ip = client_ip()
        event.user_agent = (request.user_agent.string or "")[:300] or None
    db.session.add(event)
    return event
