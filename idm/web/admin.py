"""The admin console's users list under /admin, and what it does to users.

Every action calls the same idm/users.py function as the JSON API and shows
that function's message, so a rule (last admin, duplicates, password policy)
is written once and reads the same everywhere. Forms follow
Post/Redirect/Get: success redirects with a flash; an error re-renders the
form with the entered values (never a password) and the 4xx status.
Actions offered both on the list and on a user's page (idm/web/admin_user.py)
return to where they were posted from.
"""

from flask import current_app, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, HTTPException

from .. import audit, lockout, page_sessions, reset, users
from ..blueprints import PageBlueprint
from ..errors import form_page
from ..requests import int_arg, page_arg, page_count, text_arg
from ..sessions import admin_session_required, start_session
from ..validation import check_repeated, password_rules

bp = PageBlueprint("admin", __name__, url_prefix="/admin")

# The page sizes the list offers, besides IDM_USERS_PER_PAGE.
PAGE_SIZES = (10, 25, 50, 100)
# What a form or a confirmation page carries to come back where it started:
# ``back=user`` for a user's page, else the list's search, page and size.
RETURN = ("back", "search", "page", "perpage")
# How many of a user's latest audit events their page shows.
RECENT_EVENTS = 10


@bp.get("")
@admin_session_required
def index():
    config = current_app.config
    search = text_arg("search") or ""
    default = config["IDM_USERS_PER_PAGE"]
    # The bound of GET /users's perpage, so both lists allow the same sizes.
    largest = config["IDM_USERS_MAX_PER_PAGE"]
    perpage = int_arg("perpage", default, minimum=1, maximum=largest)
    page, offset = page_arg(perpage)
    listed, total = users.list_users(offset, perpage, search)
    return render_template(
        "admin/users.html",
        users=listed,
        total=total,
        search=search,
        page=page,
        pages=page_count(total, perpage),
        perpage=perpage,
        # Only what differs from the default goes into links.
        perpage_arg=perpage if perpage != default else None,
        sizes=sorted({size for size in (*PAGE_SIZES, default) if size <= largest} | {perpage}),
        # One query for the whole page, by the rule POST /auth applies.
        locked=lockout.locked_user_ids(listed),
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


@bp.get("/users/<user_id>")
@admin_session_required
def user(user_id):
    """One user: the account, its lock, its signed-in browsers and its latest events."""
    user = users.find_user(user_id)
    failures, wait = lockout.account_state(user)
    recent = audit.filters(user=user.id)
    events, total = audit.search(recent, 0, RECENT_EVENTS)
    return render_template(
        "admin/user.html",
        user=user,
        failures=failures,
        wait=wait,
        sessions=page_sessions.active(user),
        events=events,
        event_total=total,
        actor_names=audit.actor_names(events),
        outcomes=audit.OUTCOMES,
    )


@bp.route("/users/<user_id>/password", methods=["GET", "POST"])
@admin_session_required
def set_password(user_id):
    """Set another user's password, as ``PUT /user/<id>`` with ``password`` does."""
    user = users.find_user(user_id)
    if user.id == g.user.id:
        # One's own password needs the current one: that page asks for it.
        return redirect(url_for("account.change_password"), 303)
    if request.method == "GET":
        return render_set_password(user)
    form = request.form
    try:
        check_repeated(form.get("password", ""), form.get("password2", ""))
        users.update_user(user, password=form.get("password", ""))
    except HTTPException as error:
        return render_set_password(user, error)
    flash(f"Set a new password for {user.username}; their sessions and tokens ended.", "success")
    return redirect(url_for(".user", user_id=user.id))


def render_set_password(user, error=None):
    return form_page("admin/user_password.html", error, user=user, rules=password_rules())


@bp.post("/users/<user_id>/logout")
@admin_session_required
def sign_out_everywhere(user_id):
    """End the user's tokens and page sessions, as ``POST /user/<id>/logout`` does."""
    user = users.find_user(user_id)
    users.sign_out_everywhere(user)
    # When it was the admin's own account, this browser's session ended as
    # well: the redirect leads to the sign-in page, which says so.
    flash(f"Signed {user.username} out everywhere: every token and session ended.", "success")
    return redirect(url_for(".user", user_id=user.id))


@bp.get("/users/<user_id>/sessions")
@admin_session_required
def user_sessions(user_id):
    """The address the sessions list had before it became part of the user's page."""
    user = users.find_user(user_id)
    return redirect(url_for(".user", user_id=user.id, _anchor="sessions"), 301)


@bp.post("/users/<user_id>/sessions/end")
@admin_session_required
def end_user_sessions(user_id):
    """End one session (``session_id``) or, without it, every session of the user."""
    user = users.find_user(user_id)
    session_id = request.form.get("session_id") or None
    if session_id is not None and not users.is_uuid(session_id):
        raise BadRequest("session_id must be a session's id")
    if page_sessions.end_for(user, session_id):
        where = "that browser" if session_id else "every browser"
        flash(f"Signed {user.username} out of {where}.", "success")
    else:
        flash("That session had ended already.", "error")
    return redirect(url_for(".user", user_id=user.id, _anchor="sessions"))


@bp.get("/users/<user_id>/delete")
@admin_session_required
def confirm_delete(user_id):
    return render_confirmation("admin/user_delete.html", users.find_user(user_id))


@bp.post("/users/<user_id>/delete")
@admin_session_required
def delete_user(user_id):
    user = users.find_user(user_id)
    username = user.username
    try:
        users.delete_user(user)
    except HTTPException as error:
        flash(error.description, "error")
        return back(user)
    flash(f"Deleted {username}.", "success")
    return back()  # the list: the user's page is gone


@bp.get("/users/<user_id>/admin")
@admin_session_required
def confirm_revoke_admin(user_id):
    """Asks before admin rights are revoked: the list and a user's page lead
    here for the admin's own rights, which they could not take back."""
    return render_confirmation("admin/user_revoke.html", users.find_user(user_id))


def render_confirmation(template, user):
    state = {name: request.args[name] for name in RETURN if request.args.get(name)}
    return render_template(template, user=user, state=state, cancel=back_url(user, state))


@bp.post("/users/<user_id>/admin")
@admin_session_required
def set_admin(user_id):
    user = users.find_user(user_id)
    value = request.form.get("admin")
    if value not in ("true", "false"):
        raise BadRequest("admin must be true or false")
    own = user.id == g.user.id
    if own and value == "false" and request.form.get("confirmed") != "yes":
        # A stale page or a hand-made post: ask first, as the buttons do.
        state = {name: request.form[name] for name in RETURN if request.form.get(name)}
        return redirect(url_for(".confirm_revoke_admin", user_id=user.id, **state), 303)
    try:
        users.update_user(user, admin=value == "true")
    except HTTPException as error:
        flash(error.description, "error")
        return back(user)
    if own and not user.admin:
        return own_rights_revoked()
    change = "is now an admin" if user.admin else "is no longer an admin"
    flash(f"{user.username} {change}.", "success")
    return back(user)


def own_rights_revoked():
    """Losing admin rights ended every session of the admin (users.set_admin);
    the one that asked for it goes on as a plain user's, like after a
    password change, at their account page."""
    start_session(g.user)
    flash("You are no longer an admin. Your other sessions are signed out.", "success")
    return redirect(url_for("account.home"))


@bp.post("/users/<user_id>/reset-link")
@admin_session_required
def send_reset_link(user_id):
    """Email the user a password-reset link, as /iforgot would."""
    user = users.find_user(user_id)
    reset.send_link(user)
    flash(f"A password reset link is on its way to {user.username}.", "success")
    return back(user)


@bp.post("/users/<user_id>/unlock")
@admin_session_required
def unlock(user_id):
    """Forget the account's failed logins, as POST /user/<id>/unlock does."""
    user = users.find_user(user_id)
    users.unlock(user)
    flash(f"Unlocked {user.username}.", "success")
    return back(user)


def back(user=None):
    """Back where the form was posted from: *user*'s page, or the users list
    as the admin left it (search, page and page size come with the form)."""
    state = {name: request.form[name] for name in RETURN if request.form.get(name)}
    return redirect(back_url(user, state))


def back_url(user, state):
    """Built with url_for, never taken as a URL from the form, so the redirect
    cannot be pointed at another site."""
    if user is not None and state.get("back") == "user":
        return url_for(".user", user_id=user.id)
    return url_for(".index", **{k: v for k, v in state.items() if k != "back"})
