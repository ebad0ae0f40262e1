"""Admin pages under /admin: sign-in, the users list, what can be done to users, the audit log.

Every action calls the same idm/users.py function as the JSON API and shows
that function's message, so a rule (last admin, duplicates, password policy)
is written once and reads the same everywhere. Forms follow
Post/Redirect/Get: success redirects with a flash; an error re-renders the
form with the entered values (never a password) and the 4xx status.
"""

import math

from flask import current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, HTTPException

from .. import audit, page_sessions, reset, users
from ..blueprints import PageBlueprint
from ..errors import form_page
from ..lockout import locked_user_ids
from ..requests import page_arg, text_arg
from ..sessions import admin_session_required, current_user, end_session, sign_in, start_session
from ..validation import check_repeated, password_rules

bp = PageBlueprint("admin", __name__, url_prefix="/admin")


@bp.app_template_filter("when")
def format_moment(moment, seconds=False):
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def page_count(total, perpage):
    return max(1, math.ceil(total / perpage))  # an empty list is still page 1 of 1


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user() is not None:
        return redirect(url_for(".index"))
    if request.method == "GET":
        return render_template("admin/login.html")
    try:
        admin = sign_in(request.form.get("username", ""), request.form.get("password", ""))
    except HTTPException as error:
        return form_page("admin/login.html", error, username=request.form.get("username"))
    flash(f"Signed in as {admin.username}.", "success")
    return redirect(url_for(".index"))


@bp.post("/logout")
def logout():
    end_session()
    flash("You are signed out.", "success")
    return redirect(url_for(".login"))


@bp.get("")
@admin_session_required
def index():
    search = text_arg("search") or ""
    perpage = current_app.config["IDM_USERS_PER_PAGE"]
    page, offset = page_arg(perpage)
    listed, total = users.list_users(offset, perpage, search)
    return render_template(
        "admin/users.html",
        users=listed,
        total=total,
        search=search,
        page=page,
        pages=page_count(total, perpage),
        # One query for the whole page, by the rule POST /auth applies.
        locked=locked_user_ids(listed),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@admin_session_required
def create_user():
    if request.method == "GET":
        return render_create_user()
    form = request.form
    try:
        user = users.create_user(
            form.get("username", ""), form.get("password", ""), admin="admin" in form
        )
    except HTTPException as error:
        return render_create_user(error)
    kind = "admin" if user.admin else "user"
    flash(f"Created {kind} {user.username}.", "success")
    return redirect(url_for(".index"))


def render_create_user(error=None):
    return form_page(
        "admin/user_new.html",
        error,
        username=request.form.get("username", ""),
        admin="admin" in request.form,
        rules=password_rules(),
    )


@bp.get("/users/<user_id>/delete")
@admin_session_required
def confirm_delete(user_id):
    return render_template(
        "admin/user_delete.html",
        user=users.find_user(user_id),
        search=request.args.get("search", ""),
        page=request.args.get("page", ""),
    )


@bp.post("/users/<user_id>/delete")
@admin_session_required
def delete_user(user_id):
    user = users.find_user(user_id)
    username = user.username
    try:
        users.delete_user(user)
    except HTTPException as error:
        flash(error.description, "error")
    else:
        flash(f"Deleted {username}.", "success")
    return back_to_list()


@bp.post("/users/<user_id>/admin")
@admin_session_required
def set_admin(user_id):
    user = users.find_user(user_id)
    value = request.form.get("admin")
    if value not in ("true", "false"):
        raise BadRequest("admin must be true or false")
    try:
        users.update_user(user, admin=value == "true")
    except HTTPException as error:
        flash(error.description, "error")
    else:
        change = "is now an admin" if user.admin else "is no longer an admin"
        flash(f"{user.username} {change}.", "success")
    return back_to_list()


@bp.post("/users/<user_id>/reset-link")
@admin_session_required
def send_reset_link(user_id):
    """Email the user a password-reset link, as /iforgot would."""
    user = users.find_user(user_id)
    reset.send_link(user)
    flash(f"A password reset link is on its way to {user.username}.", "success")
    return back_to_list()


@bp.post("/users/<user_id>/unlock")
@admin_session_required
def unlock(user_id):
    """Forget the account's failed logins, as POST /user/<id>/unlock does."""
    user = users.find_user(user_id)
    users.unlock(user)
    flash(f"Unlocked {user.username}.", "success")
    return back_to_list()


@bp.get("/users/<user_id>/sessions")
@admin_session_required
def user_sessions(user_id):
    """The user's signed-in browsers, as GET /user/<id>/sessions lists them."""
    user = users.find_user(user_id)
    return render_template(
        "admin/user_sessions.html", user=user, sessions=page_sessions.active(user)
    )


@bp.post("/users/<user_id>/sessions/end")
@admin_session_required
def end_user_sessions(user_id):
    """End one session (``session_id``) or, without it, every session of the user."""
    user = users.find_user(user_id)
    session_id = request.form.get("session_id") or None
    if session_id is not None and not users.is_uuid(session_id):
        raise BadRequest("session_id must be a session's id")
    if page_sessions.end_for(user, session_id):
        flash(
            f"Signed {user.username} out of {'that browser' if session_id else 'every browser'}.",
            "success",
        )
    else:
        flash("That session had ended already.", "error")
    return redirect(url_for(".user_sessions", user_id=user.id))


def back_to_list():
    """The users list as the admin left it: search and page come with the form.

    Built with url_for, never taken as a URL from the form, so the redirect
    cannot be pointed at another site.
    """
    state = {name: request.form[name] for name in ("search", "page") if request.form.get(name)}
    return redirect(url_for(".index", **state))


@bp.route("/password", methods=["GET", "POST"])
@admin_session_required
def change_password():
    if request.method == "GET":
        return render_password()
    form = request.form
    try:
        users.verify_current_password(g.admin, form.get("current_password", ""))
        check_repeated(form.get("password", ""), form.get("password2", ""))
        users.update_user(g.admin, password=form.get("password", ""))
    except HTTPException as error:
        return render_password(error)
    # This browser stays signed in; every other session and access token of
    # this admin ended with the change (set_password moved the cut-off).
    start_session(g.admin)
    flash("Your password was changed. Your other sessions and tokens are signed out.", "success")
    return redirect(url_for(".index"))


def render_password(error=None):
    return form_page("admin/password.html", error, rules=password_rules())


@bp.get("/audit", endpoint="audit")
@admin_session_required
def audit_log():
    """The audit log, newest first, filtered as GET /audit filters it."""
    filters = {"user": text_arg("user"), "action": audit.check_action(text_arg("action"))}
    perpage = current_app.config["IDM_AUDIT_PER_PAGE"]
    page, offset = page_arg(perpage)
    events, total = audit.search(filters["user"], filters["action"], offset, perpage)
    return render_template(
        "admin/audit.html",
        events=events,
        total=total,
        filters=filters,
        actions=sorted(audit.ACTIONS),
        # Actors by their current name; a deleted one by id (rows keep no actor name).
        actor_names=users.usernames({event.actor_id for event in events}),
        page=page,
        pages=page_count(total, perpage),
    )
