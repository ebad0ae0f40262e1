"""A subject's derived state, defined once, as SQL: enrolled, withdrawn, status.

The rules (the study's, from the C3-PRO tools):

* ``date_enrolled``: the earliest ``linked_on`` of the subject's links that
  are not withdrawn: the app linked itself and the subject is still in.
* ``date_withdrawn``: the latest ``withdrawn_on`` of its links.
* ``status``: the latest stage reached, in this order: ``pending`` (nothing
  yet), ``invited``, ``consented``, ``enrolled``, ``withdrawn``.

They are SQL expressions correlated to ``subjects``, not stored columns:
nothing (not a link written by an operator's SQL either) can leave them out
of step with the links. Being SQL, the same expression answers a subject's
JSON, orders and filters ``GET /subject`` inside the database query, and
counts subjects per status for /metrics. Each is one probe of the links
index per subject (links.subject_id), cheap for the rows of a page; over
the whole table (a ``status`` filter, ordering by one of them) it is a pass
over every subject: docs/performance.md has the figures.
"""

from sqlalchemy import case, func, select

from ..models import Link, Subject

STATUSES = ("pending", "invited", "consented", "enrolled", "withdrawn")

date_enrolled = (
    select(func.min(Link.linked_on))
    .where(Link.subject_id == Subject.id, Link.withdrawn_on.is_(None))
    .correlate(Subject)
    .scalar_subquery()
)

date_withdrawn = (
    select(func.max(Link.withdrawn_on))
    .where(Link.subject_id == Subject.id)
    .correlate(Subject)
    .scalar_subquery()
)

# The stages from the latest back, each with the date that marks it: a
# subject's status is the first whose date is set. The SQL below and
# ``status_of`` (for a subject already read) are both made from this list.
STAGES = (
    ("withdrawn", "date_withdrawn", date_withdrawn),
    ("enrolled", "date_enrolled", date_enrolled),
    ("consented", "date_consented", Subject.date_consented),
    ("invited", "date_invited", Subject.date_invited),
)

status = case(*((column.is_not(None), name) for name, _, column in STAGES), else_="pending")


def status_of(subject_view):
    """The status of a subject read with its derived dates (subjects.SubjectView), as
    the SQL ``status`` gives it, without another query."""
    for name, date, _ in STAGES:
        if subject_view.date(date) is not None:
            return name
    return "pending"
