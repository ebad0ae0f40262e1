"""The audit log as JSON: GET /audit (admin). Read-only: no route changes rows."""

from flask import current_app

from .. import audit
from ..auth import admin_required
from ..blueprints import ApiBlueprint
from ..requests import audit_filters, query_parameters, window_args

bp = ApiBlueprint("audit", __name__)


@bp.get("/audit")
@admin_required
@query_parameters("offset", "perpage", "user", "action", "outcome", "since", "until", "subject")
def index():
    """Newest first; ``user`` (id or username) matches actor or target, ``subject``
    an sssid; ``since`` and ``until`` are UTC days, both included."""
    config = current_app.config
    offset, perpage = window_args(config["IDM_AUDIT_PER_PAGE"], config["IDM_AUDIT_MAX_PER_PAGE"])
    page, total = audit.search(audit_filters(), offset, perpage)
    return {"data": [event.to_json() for event in page], "total": total}
