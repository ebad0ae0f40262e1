"""The audit log page, /admin/audit: GET /audit's rows and filters, for people.

Rows name their actor by id only; the page shows the address (the one a
deleted account had, from the log itself: audit.actor_names), outcomes in
words, and long user agents shortened with the whole text on hover.
"""

from flask import current_app, render_template

from .. import audit
from ..blueprints import PageBlueprint
from ..requests import audit_filters, page_arg, page_count
from ..sessions import admin_session_required

bp = PageBlueprint("admin_audit", __name__, url_prefix="/admin")


@bp.get("/audit")
@admin_session_required
def index():
    """The audit log, newest first, filtered as GET /audit filters it."""
    filters = audit_filters()
    perpage = current_app.config["IDM_AUDIT_PER_PAGE"]
    page, offset = page_arg(perpage)
    events, total = audit.search(filters, offset, perpage)
    return render_template(
        "admin/audit.html",
        events=events,
        total=total,
        filters=filters,
        # The filters as query parameters, for the links to other pages.
        args={name: value for name, value in vars(filters).items() if value},
        actions=sorted(audit.ACTIONS),
        outcomes=audit.OUTCOMES,
        actor_names=audit.actor_names(events),
        page=page,
        pages=page_count(total, perpage),
    )
