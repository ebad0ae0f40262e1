"""The audit log: one row per security-relevant action, never changed.

``record`` adds the row to the current session, so it commits (or rolls
back) with the change it describes: no action without its record, and no
record of an action that did not happen. Failures that change nothing
(a wrong password) are recorded and committed by the caller on purpose.

Users are actors and targets. A study's subjects are no users: their events
(``subject.*``, and ``link.*`` for their links) name the subject by its
``sssid`` and say in ``detail`` what changed, in the words of the subject's
activity log (idm/study/).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import g, has_request_context, request
from sqlalchemy import Integer, delete, func, literal, or_, select
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
    "password.confirm",
    "reset.request",
    "reset.complete",
    "session.end",
    "lockout",
    "unlock",
    "subject.create",
    "subject.update",
    "subject.invite",
    "subject.consent",
    "link.create",
    "link.establish",
    "link.withdraw",
    "key.create",
    "key.reseal",
}
# Every outcome a row can have, in words for people. "ok" unless the action
# says otherwise: a failed login or confirmation, a reset asked for an
# address without account, and what a lockout locked.
OUTCOMES = {
    "ok": "OK",
    "failed": "Failed",
    "unknown-user": "Unknown address",
    "account": "Account locked",
    "ip": "IP address locked",
    "init": "Setup locked for the address",
    "rotate": "Rotated",
    "rotate-now": "Rotated at once",
    "automatic": "Rotated on schedule",
}


def record(action, target=None, outcome="ok", actor=None, subject=None, detail=None):
    """Append one event. *actor* defaults to the authenticated caller."""
    event = AuditEvent(**event_values(action, target, outcome, actor, subject, detail))
    db.session.add(event)
    return event


def event_values(action, target=None, outcome="ok", actor=None, subject=None, detail=None):
    """The columns of one event, for ``record``, for bulk inserts (the CSV import)
    or for an INSERT on a connection of its own (a new signing key)."""
    assert action in ACTIONS, action
    assert outcome in OUTCOMES, outcome
    if actor is None:
        actor = current_actor()
    values = {
        "at": clock.now(),  # via the module, so tests can move the clock
        "action": action,
        "outcome": outcome,
        "actor_id": actor.id if actor is not None else None,
        "target_id": target.id if target is not None else None,
        "target_name": target.username if target is not None else None,
        "subject": subject,
        "detail": detail,
        "ip": None,
        "user_agent": None,
    }
    if has_request_context():
        values["ip"] = client_ip()
        values["user_agent"] = (request.user_agent.string or "")[:300] or None
    return values


@dataclass(frozen=True)
class Filters:
    """What GET /audit and the audit page select by; None means any.

    *user* is an id or a username and matches actor or target; *subject* is
    a study subject's sssid (its own events and its links'); *since* and
    *until* are UTC days, both included. Build it with ``filters``, which
    checks the values.
    """

    user: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: date | None = None
    until: date | None = None
    subject: str | None = None

    def conditions(self):
        if self.user:
            ids = ids_of(self.user)
            yield or_(AuditEvent.actor_id.in_(ids), AuditEvent.target_id.in_(ids))
        if self.subject:
            yield AuditEvent.subject == self.subject
        if self.action:
            yield AuditEvent.action == self.action
        if self.outcome:
            yield AuditEvent.outcome == self.outcome
        if self.since:
            yield AuditEvent.at >= datetime.combine(self.since, time(), UTC)
        if self.until and self.until < date.max:
            yield AuditEvent.at < datetime.combine(self.until + timedelta(days=1), time(), UTC)


def filters(user=None, action=None, outcome=None, since=None, until=None, subject=None):
    """Checked ``Filters``: a known action and outcome, and no range that ends before it starts."""
    if action and action not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        raise BadRequest(f"unknown action {action!r}; known actions: {known}")
    if outcome and outcome not in OUTCOMES:
        known = ", ".join(sorted(OUTCOMES))
        raise BadRequest(f"unknown outcome {outcome!r}; known outcomes: {known}")
    if since and until and since > until:
        raise BadRequest("since must not be after until")
    return Filters(user, action, outcome, since, until, subject)


def current_actor():
    """The authenticated caller, or None (anonymous, or the CLI on the host)."""
    return g.get("user") if has_request_context() else None


def search(filters, offset, perpage):
    """One page of the events that match *filters* (``Filters``), newest first, and their total."""
    query = select(AuditEvent).where(*filters.conditions())
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    newest_first = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    return list(db.session.scalars(newest_first.offset(offset).limit(perpage))), total


def subject_history(sssid):
    """Every event of the subject *sssid* and of its links, oldest first."""
    query = select(AuditEvent).where(AuditEvent.subject == sssid)
    return list(db.session.scalars(query.order_by(AuditEvent.at, AuditEvent.id)))


def actor_names(events):
    """``{actor id: (username, deleted)}`` for the actors of *events*, in one query.

    Rows name their actor by id only. A deleted account's name comes from
    the newest row that named it as target (its user.create at least); an
    actor whose every such row was pruned is missing from the answer.
    """
    ids = {event.actor_id for event in events if event.actor_id}
    if not ids:
        return {}
    live = select(User.id, User.username, literal(1, Integer)).where(User.id.in_(ids))
    newest = (
        select(func.max(AuditEvent.id))
        .where(AuditEvent.target_id.in_(ids), AuditEvent.target_name.is_not(None))
        .group_by(AuditEvent.target_id)
    )
    recorded = select(AuditEvent.target_id, AuditEvent.target_name, literal(0, Integer)).where(
        AuditEvent.id.in_(newest)
    )
    rows = db.session.execute(live.union_all(recorded)).all()
    # Recorded names first, so that the users table has the last word.
    return {
        user_id: (name, not exists)
        for user_id, name, exists in sorted(rows, key=lambda row: row[2])
    }


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
