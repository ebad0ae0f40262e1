"""A subject's links to the study's app: create, hand out as a JWT, withdraw.

A link is made for a consented subject, handed out as a JWT in a QR code
(idm/link_tokens.py), scanned by the app and sent back to ``/establish``
with the app's FHIR Patient identifier (establish.py). Each change and its
audit event (named by the subject's sssid) are one transaction.

Why "once" holds under races: every change is a conditional statement
that only one of two racing requests can win. ``/establish`` is an
``UPDATE … WHERE linked_to IS NULL AND withdrawn_on IS NULL AND exp > now``;
a withdrawal an ``UPDATE … WHERE withdrawn_on IS NULL``; a new link an
``INSERT … SELECT`` that needs the subject not withdrawn (consent, checked
before, cannot be taken back: a set date_consented never changes).
SQLite evaluates each under its write lock; on PostgreSQL the subject's row
is locked first (``lock_subject``), so a withdrawal and a new link or an
establishment of the same subject are ordered, and the loser's condition
sees the winner's change.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, insert, literal, select, update
from werkzeug.exceptions import BadRequest, Conflict, Gone, NotFound, PreconditionFailed

from .. import audit, clock, link_tokens
from ..models import Link, Subject, db, iso
from . import fields, state, subjects

JTI = re.compile(r"[A-Za-z0-9_-]{1,43}")
JTI_BYTES = 16  # 128 random bits, 22 URL-safe characters
# Every field of a link's JSON: what PUT /link/<jti> may send back unchanged.
TIMESTAMPS = ("exp", "created", "changed", "linked_on", "withdrawn_on")
JSON_FIELDS = ("_id", "sub", "iss", "aud", "linked_to", "linked_system", *TIMESTAMPS)


@dataclass(frozen=True)
class LinkView:
    """A link, its subject, and whether that subject has withdrawn (through any link)."""

    link: Link
    subject: Subject
    subject_withdrawn: datetime | None

    def to_json(self):
        link = self.link
        return {
            "_id": link.jti,
            "sub": self.subject.sssid,
            "iss": link.iss,
            "aud": link.aud,
            "exp": iso(link.exp),
            "created": iso(link.created),
            "changed": iso(link.changed),
            "linked_to": link.linked_to,
            "linked_system": link.linked_system,
            "linked_on": iso(link.linked_on),
            "withdrawn_on": iso(link.withdrawn_on),
        }


def lookup(jti):
    """The LinkView of *jti*, or None."""
    if not isinstance(jti, str) or not JTI.fullmatch(jti):
        return None
    query = (
        select(Link, Subject, state.date_withdrawn)
        .join(Subject, Subject.id == Link.subject_id)
        .where(Link.jti == jti)
    )
    row = db.session.execute(query).first()
    return LinkView(*row) if row is not None else None


def find(jti):
    view = lookup(jti)
    if view is None:
        raise NotFound(f"no link {jti}")
    return view


def lock_subject(subject_id):
    """Order the changes of one subject's links on PostgreSQL (SQLite has one writer)."""
    db.session.execute(select(Subject.id).where(Subject.id == subject_id).with_for_update())


def views_of(subject_view, links):
    return [LinkView(link, subject_view.subject, subject_view.date_withdrawn) for link in links]


def create(subject_view):
    """A new link for a consented subject: 412 before consent, 409 once withdrawn."""
    link_tokens.secret()  # 503 while links cannot be signed
    subject = subject_view.subject
    if subject.date_consented is None:
        raise PreconditionFailed(f"subject {subject.sssid} has not consented yet")
    if subject_view.date_withdrawn is not None:
        raise Conflict(f"subject {subject.sssid} has withdrawn from the study")
    now = clock.now()
    lifetime = current_app.config["IDM_LINK_LIFETIME"]
    row = {
        "jti": secrets.token_urlsafe(JTI_BYTES),
        "subject_id": subject.id,
        "iss": link_tokens.issuer(),
        "aud": link_tokens.audience(),
        # Whole seconds: the token's exp is this value exactly.
        "exp": (now + timedelta(seconds=lifetime)).replace(microsecond=0),
        "created": now,
        "changed": now,
    }
    columns = Link.__table__.c
    source = select(*(literal(value, columns[name].type) for name, value in row.items()))
    withdrawn = exists().where(Link.subject_id == subject.id, Link.withdrawn_on.is_not(None))
    lock_subject(subject.id)
    statement = insert(Link.__table__).from_select(list(row), source.where(~withdrawn))
    # SQLAlchemy keeps an INSERT's rowcount only when asked to.
    statement = statement.execution_options(preserve_rowcount=True)
    if db.session.execute(statement).rowcount != 1:
        db.session.rollback()
        raise Conflict(f"subject {subject.sssid} has withdrawn from the study")
    audit.record("link.create", subject=subject.sssid, detail="create")
    db.session.commit()
    return find(row["jti"])


def closed_because(view, now):
    """Why *view*'s link can no longer be established, or None while it can."""
    if view.link.withdrawn_on is not None:
        return "link was withdrawn"
    if view.subject_withdrawn is not None:
        return "subject has withdrawn from the study"
    if view.link.linked_to is not None:
        return "link is established already"
    if view.link.exp <= now:
        return "link has expired"
    return None


def state_of(view, now):
    """A link's state in one word, for people: ``waiting`` (open: its QR code
    can be scanned), ``linked``, ``withdrawn``, ``expired``, or ``closed``
    (the subject withdrew through another of their links)."""
    if view.link.withdrawn_on is not None:
        return "withdrawn"
    if view.link.linked_to is not None:
        return "linked"
    if closed_because(view, now) is None:
        return "waiting"
    return "expired" if view.link.exp <= now else "closed"


def hand_out(subject_view):
    """The link a QR code shows: the subject's oldest waiting link, else a new one.

    As the original C3-PRO frontend chose it, so that showing the code again
    (a reload, another member of staff) hands out the same link rather than
    piling up new ones. 412 before consent and 409 once withdrawn, as ``create``.
    """
    now = clock.now()
    for view in views_of(subject_view, subjects.links_of(subject_view)):
        if closed_because(view, now) is None:
            return view
    return create(subject_view)


def token(view):
    """The link's JWT, signed again from its stored claims; 410 once it is closed."""
    link_tokens.secret()
    reason = closed_because(view, clock.now())
    if reason is not None:
        raise Gone(reason)
    link, subject = view.link, view.subject
    claims = {
        "jti": link.jti,
        "iss": link.iss,
        "aud": link.aud,
        "exp": int(link.exp.timestamp()),
        # What the app shows and keeps: the subject's name and birthday.
        "sub": subject.name,
        "birthdate": subject.bday.isoformat(),
    }
    return link_tokens.sign(claims)


def withdraw(view, data):
    """The subject withdrew through this link at ``data["withdrawn_on"]``.

    *data* may hold the link's other fields too (a client sends back what
    it read): with their current values they are fine, any other value is a
    409. 409 as well once the link is withdrawn, also when two requests race.
    """
    if data.get("withdrawn_on") is None:
        raise BadRequest("withdrawn_on is required")
    moment = fields.timestamp("withdrawn_on", data["withdrawn_on"])
    current = view.to_json()
    for name in JSON_FIELDS:
        if name != "withdrawn_on" and name in data and not same_value(name, data[name], current):
            raise Conflict(f"{name} cannot be changed")
    if view.link.withdrawn_on is not None:
        raise Conflict("link was already withdrawn")
    now = clock.now()
    lock_subject(view.subject.id)
    statement = (
        update(Link)
        .where(Link.jti == view.link.jti, Link.withdrawn_on.is_(None))
        .values(withdrawn_on=moment, changed=now)
        .execution_options(synchronize_session=False)
    )
    if db.session.execute(statement).rowcount == 0:
        db.session.rollback()
        raise Conflict("link was already withdrawn")
    touch(view.subject.id, now)
    audit.record("link.withdraw", subject=view.subject.sssid, detail=f"withdrawn: {iso(moment)}")
    db.session.commit()
    return find(view.link.jti)


def same_value(name, sent, current):
    """Whether *sent* is the link's current *name*: timestamps as instants, in any offset."""
    if name in TIMESTAMPS and isinstance(sent, str) and current[name] is not None:
        try:
            return fields.timestamp(name, sent) == fields.timestamp(name, current[name])
        except BadRequest:  # not a timestamp: not the current value
            return False
    return sent == current[name]


def touch(subject_id, now):
    """The subject's derived dates changed: so did the subject (``changed``)."""
    statement = update(Subject).where(Subject.id == subject_id).values(changed=now)
    db.session.execute(statement.execution_options(synchronize_session=False))
