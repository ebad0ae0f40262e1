"""GET /subject: one page of subjects, ordered, searched and filtered in the database.

Two things keep a page cheap however many subjects there are:

* **A deferred join.** The page's ids are chosen first, from an index
  that holds the order column and the id (``ix_subjects_name_id`` …, a
  covering index: no table row is read to skip one), and only those rows
  are joined and read whole, with their derived dates. A deep ``offset``
  then skips index entries, not rows.
* **The shorter way round.** A page nearer the end than the start is read
  in the opposite order with the offset counted from the end, and put back
  in order by the outer query: the last page costs what the first does, and
  no page skips more than half the list.

``total`` is exact: without a filter it is read from ``subject_count``
(kept by triggers, models/row_count.py), one primary-key read; with
``search`` or ``status`` the matches are counted. docs/performance.md has
the figures.
"""

from sqlalchemy import func, or_, select
from werkzeug.exceptions import BadRequest

from ..models import Subject, SubjectCount, db
from ..users import escape_like
from ..validation import fold
from . import fields, state
from .subjects import VIEW, SubjectView

# ordercol -> (expression, whether it can be null). Nulls come last either way.
ORDER_COLUMNS = {
    "sssid": (Subject.sssid, False),
    "name": (Subject.name, False),
    "bday": (Subject.bday, False),
    "created": (Subject.created, False),
    "changed": (Subject.changed, False),
    "date_invited": (Subject.date_invited, True),
    "date_consented": (Subject.date_consented, True),
    "date_enrolled": (state.date_enrolled, True),
    "date_withdrawn": (state.date_withdrawn, True),
}
DIRECTIONS = ("asc", "desc")
# A page's size: GET /subject's default and bound, which the pages' list keeps to.
PER_PAGE, MAX_PER_PAGE = 50, 100


def check_order(column, direction):
    """(ordercol, descending) from the query's values; 400 naming a wrong one."""
    column = column or "name"
    if column not in ORDER_COLUMNS:
        raise BadRequest("ordercol must be one of " + ", ".join(ORDER_COLUMNS))
    direction = (direction or "asc").lower()
    if direction not in DIRECTIONS:
        raise BadRequest("orderdir must be asc or desc")
    return column, direction == "desc"


def check_status(status):
    if status is not None and status not in state.STATUSES:
        raise BadRequest("status must be one of " + ", ".join(state.STATUSES))
    return status


def order_by(column, descending, reverse=False):
    """The ORDER BY terms: the column (nulls last), then the id to break ties.

    *reverse* gives the exact opposite order, null placement included.
    """
    expression, nullable = ORDER_COLUMNS[column]
    backwards = descending != reverse
    first = expression.desc() if backwards else expression.asc()
    if nullable:
        first = first.nulls_first() if reverse else first.nulls_last()
    if column == "sssid":
        return [first]  # unique: no tie to break
    return [first, Subject.id.desc() if backwards else Subject.id.asc()]


def conditions(search, status):
    """WHERE terms: *search* in sssid, name or the start of bday, literally; *status*."""
    terms = []
    if search:
        pattern = "%" + escape_like(fold(search)) + "%"
        matches = [
            func.lower(Subject.sssid).like(pattern, escape="\\"),
            Subject.search_name.like(pattern, escape="\\"),
        ]
        days = fields.bday_range(search)
        if days is not None:
            matches.append(Subject.bday.between(*days))
        terms.append(or_(*matches))
    if status:
        terms.append(state.status == status)
    return terms


def total_of(terms):
    if not terms:
        return db.session.execute(select(SubjectCount.n).where(SubjectCount.id == 1)).scalar_one()
    return db.session.scalar(select(func.count()).select_from(Subject).where(*terms))


def list_subjects(offset, perpage, column, descending, search=None, status=None):
    """(page of SubjectViews, total) for GET /subject."""
    terms = conditions(search, status)
    total = total_of(terms)
    if offset >= total:
        return [], total
    limit, reverse = perpage, False
    if offset > total - offset - perpage:
        # Nearer the end: count the offset from there, in the opposite order.
        limit = min(perpage, total - offset)
        offset, reverse = max(0, total - offset - perpage), True
    page = page_query(terms, column, descending, offset, limit, reverse)
    return [SubjectView(*row) for row in db.session.execute(page)], total


def page_query(terms, column, descending, offset, limit, reverse=False):
    """The deferred join: the page's ids from the order's index, then their rows."""
    ids = (
        select(Subject.id)
        .where(*terms)
        .order_by(*order_by(column, descending, reverse))
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    page = select(*VIEW).join(ids, ids.c.id == Subject.id)
    return page.order_by(*order_by(column, descending))
