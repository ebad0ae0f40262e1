"""What study staff do to subjects: create, read, change, and the subject's activity log.

One function per action, each one transaction with its audit events
(idm/audit.py, named by the subject's sssid). The JSON API and the CSV
import call the same checks, so a rule and its message read the same
everywhere. Refusals are werkzeug HTTP exceptions whose description is the
message for the user.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, Conflict, NotFound

from .. import audit, clock, users
from ..models import Link, Subject, db, iso
from ..validation import fold
from . import fields, state

WRITABLE = ("sssid", "name", "bday", "email", "date_invited", "date_consented")
# Fields a subject has that no client writes: refused by name, not as unknown.
DERIVED = ("date_enrolled", "date_withdrawn", "created", "changed", "status")
PARSERS = {
    "sssid": fields.sssid,
    "name": fields.name,
    "bday": fields.bday,
    "email": fields.email,
    "date_invited": lambda value: fields.timestamp("date_invited", value),
    "date_consented": lambda value: fields.timestamp("date_consented", value),
}
# Fields whose null means something: no email; for a date, "not set" (which
# a set date cannot become). For the others null counts as not sent.
NULLABLE = ("email", "date_invited", "date_consented")
# (field, audit action, the word of the activity log and of the 409)
MILESTONES = (
    ("date_invited", "subject.invite", "invited"),
    ("date_consented", "subject.consent", "consented"),
)


@dataclass(frozen=True)
class SubjectView:
    """A subject with its derived dates, as one query read them (state.py)."""

    subject: Subject
    date_enrolled: datetime | None
    date_withdrawn: datetime | None

    def date(self, name):
        """One of the subject's dates by its JSON name, derived or stored."""
        if name in ("date_enrolled", "date_withdrawn"):
            return getattr(self, name)
        return getattr(self.subject, name)

    @property
    def status(self):
        return state.status_of(self)

    def to_json(self):
        subject = self.subject
        return {
            "sssid": subject.sssid,
            "name": subject.name,
            "bday": subject.bday.isoformat(),
            "email": subject.email,
            "date_invited": iso(subject.date_invited),
            "date_consented": iso(subject.date_consented),
            "date_enrolled": iso(self.date_enrolled),
            "date_withdrawn": iso(self.date_withdrawn),
            "created": iso(subject.created),
            "changed": iso(subject.changed),
        }


# The columns of a SubjectView, for every query that answers subjects.
VIEW = (Subject, state.date_enrolled, state.date_withdrawn)


def checked_fields(data, required=()):
    """The writable fields *data* holds, parsed; 400 naming a derived or bad one."""
    for name in DERIVED:
        if name in data:
            raise BadRequest(f"{name} is derived by the service and cannot be written")
    found = {}
    for name in WRITABLE:
        value = data.get(name)
        if value is not None:
            found[name] = PARSERS[name](value)
        elif name in data and name in NULLABLE:
            found[name] = None
        elif name in required:
            raise BadRequest(f"{name} is required")
    return found


def field_problems(data, names):
    """(checked fields, {field: message}) of *data*: each of *names* checked on its own
    by ``checked_fields``, so that a form shows every refusal at once, next to its field."""
    found, problems = {}, {}
    for name in names:
        try:
            found.update(checked_fields({name: data.get(name)}, required=(name,)))
        except BadRequest as error:
            problems[name] = error.description
    return found, problems


def new_subject(found):
    """A Subject from checked fields (not added to the session)."""
    return Subject(
        sssid=found["sssid"],
        name=found["name"],
        search_name=fold(found["name"]),
        bday=found["bday"],
        email=found.get("email"),
        date_invited=found.get("date_invited"),
        date_consented=found.get("date_consented"),
    )


def creation_events(subject):
    """(action, detail) of a new subject: its creation, and any date it came with."""
    events = [("subject.create", "create")]
    for name, action, word in MILESTONES:
        if getattr(subject, name) is not None:
            events.append((action, f"{word}: {iso(getattr(subject, name))}"))
    return events


def create(found):
    """A new subject from checked fields; 409 when its sssid is taken, also in a race."""
    subject = new_subject(found)
    db.session.add(subject)
    for action, detail in creation_events(subject):
        audit.record(action, subject=subject.sssid, detail=detail)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"sssid {found['sssid']} is already taken") from None
    return find(subject.sssid)


def find(sssid):
    """The subject *sssid* with its derived dates, or 404."""
    row = None
    if fields.is_sssid(sssid):
        row = db.session.execute(select(*VIEW).where(Subject.sssid == sssid)).first()
    if row is None:
        raise NotFound(f"no subject {sssid}")
    return SubjectView(*row)


def update_subject(view, found):
    """Apply checked fields to the subject; 409 for its sssid or a date already set.

    Name, birthday and email may change; the dates of invitation and consent
    are set once. Nothing that is sent with its current value counts as a
    change; no change, no write and no event. The UPDATE itself requires
    each date it sets to be still unset, so of two requests setting
    different dates at once, one gets the 409.
    """
    subject = view.subject
    if "sssid" in found and found["sssid"] != subject.sssid:
        raise Conflict("sssid cannot be changed")
    changes, events = detail_changes(subject, found)
    unset = []
    for name, action, word in MILESTONES:
        if name not in found or found[name] == getattr(subject, name):
            continue
        if getattr(subject, name) is not None:
            raise Conflict(f"subject has already been {word}")
        changes[name] = found[name]
        unset.append(getattr(Subject, name).is_(None))
        events.append((action, f"{word}: {iso(found[name])}"))
    if not changes:
        return view
    statement = (
        update(Subject)
        .where(Subject.id == subject.id, *unset)
        .values(**changes, changed=clock.now())
        .execution_options(synchronize_session=False)
    )
    if db.session.execute(statement).rowcount == 0:
        db.session.rollback()
        raise Conflict("subject has already been invited or consented meanwhile")
    for action, detail in events:
        audit.record(action, subject=subject.sssid, detail=detail)
    db.session.commit()
    db.session.expire(subject)
    return find(subject.sssid)


def detail_changes(subject, found):
    """({column: value}, [event]) for name, bday and email: one "update" event for all."""
    changes, said = {}, []
    for name in ("name", "bday", "email"):
        if name in found and found[name] != getattr(subject, name):
            changes[name] = found[name]
            shown = found[name].isoformat() if name == "bday" else found[name]
            said.append(f"{name}: {json.dumps(shown, ensure_ascii=False)}")
    if "name" in changes:
        changes["search_name"] = fold(changes["name"])
    return changes, [("subject.update", "update " + "; ".join(said))] if said else []


def history(view):
    """The subject's activity log, oldest first: its events and, prefixed, its links'."""
    events = audit.subject_history(view.subject.sssid)
    names = users.usernames({event.actor_id for event in events if event.actor_id})
    return [
        {
            "datetime": iso(event.at),
            # Staff by their current username; a deleted account by its id; the app: null.
            "actor": names.get(event.actor_id, event.actor_id),
            "action": ("[Link] " if event.action.startswith("link.") else "") + event.detail,
        }
        for event in events
    ]


def links_of(view):
    """The subject's links, oldest first."""
    query = select(Link).where(Link.subject_id == view.subject.id)
    return list(db.session.scalars(query.order_by(Link.created, Link.jti)))
