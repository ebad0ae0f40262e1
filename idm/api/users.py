"""Users as JSON: /user, /user/<id>, /user/me and /users."""

from flask import current_app, g, url_for
from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from .. import page_sessions, users
from ..auth import admin_required, login_required
from ..blueprints import ApiBlueprint
from ..requests import (
    bool_field,
    flag_arg,
    json_object,
    query_parameters,
    string_field,
    text_arg,
    window_args,
)
from ..tokens import token_response

bp = ApiBlueprint("users", __name__)


@bp.get("/user/me")
@login_required
def whoami():
    return {"data": g.user.to_json()}


@bp.post("/user")
@admin_required
@query_parameters("dry_run")
def create():
    """Create a user; with ``?dry_run=1`` only say whether it would be created.

    A dry run checks the fields it is given exactly as a creation would and
    answers 204 or the same 400/409; missing fields are not an error there,
    so that a client can check each answer as soon as it is typed.
    """
    dry_run = flag_arg("dry_run")
    data = json_object(allowed={"username", "password", "admin"})
    username = string_field(data, "username", required=not dry_run)
    password = string_field(data, "password", required=not dry_run)
    admin = bool_field(data, "admin") or False
    if dry_run:
        users.check_new_user(username, password)
        return "", 204
    user = users.create_user(username, password, admin=admin)
    location = url_for("users.read", user_id=user.id)
    return {"data": user.to_json()}, 201, {"Location": location}


@bp.delete("/user")
@admin_required
def delete_by_name():
    data = json_object(allowed={"username"})
    users.delete_user(users.find_by_username(string_field(data, "username")))
    return "", 204


@bp.get("/user/<user_id>")
@login_required
def read(user_id):
    return {"data": self_or_admin(user_id).to_json()}


@bp.put("/user/<user_id>")
@login_required
def change(user_id):
    """Admins set admin and password; users change their own password."""
    user = self_or_admin(user_id)
    data = json_object(allowed={"admin", "password", "current_password"})
    password = string_field(data, "password", required=False)
    # Parsed whether or not it is needed: a malformed field is a 400 always.
    current_password = string_field(data, "current_password", required=False)
    admin = bool_field(data, "admin")
    if user.id == g.user.id and password is not None:
        # Even an admin proves the current password to change their own, so a
        # stolen token alone cannot lock the owner out.
        users.verify_current_password(user, current_password)
    if not g.user.admin:
        if admin is not None:
            raise Forbidden("only an admin can change admin rights")
        if password is None:
            raise BadRequest("password is required")
    user = users.update_user(user, admin=admin, password=password)
    body = {"data": user.to_json()}
    if password is not None and user.id == g.user.id:
        # The change ended every token of the caller, the one of this request
        # too; a fresh one (a new password proof) keeps this client logged in.
        body.update(token_response(user))
    return body


@bp.delete("/user/<user_id>")
@admin_required
def delete(user_id):
    users.delete_user(users.find_user(user_id))
    return "", 204


@bp.post("/user/<user_id>/unlock")
@admin_required
def unlock(user_id):
    """Clear a lockout after failed logins (the account's counter, not the IP's)."""
    users.unlock(users.find_user(user_id))
    return "", 204


@bp.post("/user/<user_id>/logout")
@admin_required
def sign_out_everywhere(user_id):
    """Every access token and page session of the user ends: "log out everywhere"."""
    users.sign_out_everywhere(users.find_user(user_id))
    return "", 204


@bp.get("/user/<user_id>/sessions")
@admin_required
def sessions(user_id):
    """The user's live sessions on the pages, newest first."""
    user = users.find_user(user_id)
    return {"data": [row.to_json() for row in page_sessions.active(user)]}


@bp.delete("/user/<user_id>/sessions")
@admin_required
def end_sessions(user_id):
    """Sign the user out of the pages in every browser."""
    page_sessions.end_for(users.find_user(user_id))
    return "", 204


@bp.delete("/user/<user_id>/sessions/<session_id>")
@admin_required
def end_session(user_id, session_id):
    user = users.find_user(user_id)
    # Ids are UUIDs; anything else (a NUL byte) must not reach PostgreSQL.
    if not users.is_uuid(session_id) or not page_sessions.end_for(user, session_id):
        raise NotFound("no such session of that user")
    return "", 204


@bp.get("/users")
@admin_required
@query_parameters("offset", "perpage", "search")
def index():
    config = current_app.config
    offset, perpage = window_args(config["IDM_USERS_PER_PAGE"], config["IDM_USERS_MAX_PER_PAGE"])
    page, total = users.list_users(offset, perpage, text_arg("search"))
    return {"data": [user.to_json() for user in page], "total": total}


def self_or_admin(user_id):
    if g.user.id != user_id and not g.user.admin:
        raise Forbidden("you may only see and change your own account")
    return users.find_user(user_id)
