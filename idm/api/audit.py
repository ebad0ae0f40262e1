"""The audit log as JSON: GET /audit (admin). Read-only: no route changes rows."""

from flask import current_app

from .. import audit
from ..auth import admin_required
from ..blueprints import ApiBlueprint
from ..requests import query_parameters, text_arg, window_args

bp = ApiBlueprint("audit", __name__)


@bp.get("/audit")
@admin_required
@query_parameters("offset", "perpage", "user", "action", "subject")
def index():
    """Newest first; ``user`` (id or username) matches actor or target, ``subject`` an sssid."""
    config = current_app.config
    offset, perpage = window_args(config["IDM_AUDIT_PER_PAGE"], config["IDM_AUDIT_MAX_PER_PAGE"])
    action = audit.check_action(text_arg("action"))
    page, total = audit.search(text_arg("user"), action, offset, perpage, text_arg("subject"))
    return {"data": [event.to_json() for event in page], "total": total}
