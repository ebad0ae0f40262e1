"""The app's side of a link: POST /establish with the link JWT and a FHIR Patient.

The app (C3-PRO iOS/Android) scanned the link's QR code, verified the JWT
with the link secret, and now sends it back as a bearer token to
``aud`` + ``establish`` with its FHIR ``Patient``. The token is checked
here (signature, the link it names, that link's ``iss`` and ``aud``), then
the link is pointed at the Patient's first identifier once: the
``UPDATE … WHERE linked_to IS NULL`` only one of two racing requests wins
(links.py says how the subject's row orders it against a withdrawal).
"""

from sqlalchemy import exists, update
from sqlalchemy.orm import aliased
from werkzeug.exceptions import BadRequest, Conflict, Forbidden, NotAcceptable

from .. import audit, clock, link_tokens
from ..link_tokens import InvalidLinkToken
from ..models import Link, db
from ..requests import checked_text
from .links import closed_because, find, lock_subject, lookup, touch

MAX_LINKED_TO = 255  # the columns' sizes (models/study.py)
MAX_LINKED_SYSTEM = 500


def authenticate(token_text):
    """The LinkView a link JWT opens, or InvalidLinkToken (a 401) saying why.

    The signature first (link_tokens), then the link it names, then its
    ``iss`` and ``aud``, which must be the ones the link was issued with.
    """
    claims = link_tokens.verified_claims(token_text)
    view = lookup(claims["jti"])
    if view is None:
        raise InvalidLinkToken("link token names no link")
    if claims["iss"] != view.link.iss:
        raise InvalidLinkToken("link token is from another issuer")
    if claims["aud"] != view.link.aud:
        raise InvalidLinkToken("link token is for another audience")
    return view


def patient_identifier(body):
    """(value, system) of a FHIR Patient's first identifier; 406 saying what is wrong."""
    if not isinstance(body, dict) or body.get("resourceType") != "Patient":
        raise NotAcceptable('the body must be a FHIR Patient resource ("resourceType": "Patient")')
    identifiers = body.get("identifier")
    if not isinstance(identifiers, list) or not identifiers or not isinstance(identifiers[0], dict):
        raise NotAcceptable(
            "the Patient must have an identifier list whose first entry is an object"
        )
    value, system = identifiers[0].get("value"), identifiers[0].get("system")
    if not isinstance(value, str) or not value.strip():
        raise NotAcceptable("the Patient's identifier[0].value must be a non-empty string")
    if system is not None and not isinstance(system, str):
        raise NotAcceptable("the Patient's identifier[0].system must be a string")
    for name, text, longest in (
        ("value", value, MAX_LINKED_TO),
        ("system", system, MAX_LINKED_SYSTEM),
    ):
        if text is None:
            continue
        field = f"the Patient's identifier[0].{name}"
        if len(text) > longest:
            raise NotAcceptable(f"{field} must be at most {longest} characters")
        try:
            checked_text(field, text)
        except BadRequest as error:  # NUL or a lone surrogate: said as for any text
            raise NotAcceptable(error.description) from None
    return value, system or None


def establish(view, value, system):
    """Point the link at the app's Patient: 403 closed, 409 established (also in a race)."""
    now = clock.now()
    link = view.link
    lock_subject(view.subject.id)
    sibling = aliased(Link)  # any link of the subject, this one included
    subject_withdrawn = exists().where(
        sibling.subject_id == view.subject.id, sibling.withdrawn_on.is_not(None)
    )
    statement = (
        update(Link)
        .where(
            Link.jti == link.jti,
            Link.linked_to.is_(None),
            Link.withdrawn_on.is_(None),
            Link.exp > now,
            ~subject_withdrawn,
        )
        .values(linked_to=value, linked_system=system, linked_on=now, changed=now)
        .execution_options(synchronize_session=False)
    )
    if db.session.execute(statement).rowcount == 0:
        db.session.rollback()
        refuse(find(link.jti), now)
    touch(view.subject.id, now)
    audit.record("link.establish", subject=view.subject.sssid, detail=f"link to {value}")
    db.session.commit()


def refuse(view, now):
    """The refusal of an establishment that changed nothing, read from the link as it is now."""
    reason = closed_because(view, now)
    if reason == "link is established already":
        raise Conflict("this link has already been established")
    raise Forbidden(reason or "link cannot be established")
