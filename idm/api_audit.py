"""The audit log as JSON: GET /audit (admin). Read-only: no route changes rows."""

from flask import Blueprint, current_app, request
from werkzeug.exceptions import BadRequest

from . import audit
from .api_users import int_arg
from .auth import admin_required

bp = Blueprint("audit", __name__)


@bp.get("/audit")
@admin_required
def index():
    """Newest first; ``user`` (id or username) matches actor or target."""
    offset = int_arg("offset", 0, minimum=0)
    perpage = int_arg(
        "perpage",
        current_app.config["IDM_AUDIT_PER_PAGE"],
        minimum=1,
        maximum=current_app.config["IDM_AUDIT_MAX_PER_PAGE"],
    )
    page, total = audit.search(text_arg("user"), action_arg(), offset, perpage)
    return {"data": [event.to_json() for event in page], "total": total}


def action_arg():
    """The ``action`` filter: one of audit.ACTIONS, or None for any."""
    action = text_arg("action")
    if action and action not in audit.ACTIONS:
        known = ", ".join(sorted(audit.ACTIONS))
        raise BadRequest(f"unknown action {action!r}; known actions: {known}")
    return action


def text_arg(name):
    value = request.args.get(name, "").strip()
    if "\x00" in value:
        raise BadRequest(f"{name} must not contain NUL characters")
    if len(value) > 254:
        raise BadRequest(f"{name} must be at most 254 characters")
    return value or None
