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

status = case(
    (date_withdrawn.is_not(None), "withdrawn"),
    (date_enrolled.is_not(None), "enrolled"),
    (Subject.date_consented.is_not(None), "consented"),
    (Subject.date_invited.is_not(None), "invited"),
    else_="pending",
)
