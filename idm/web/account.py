"""Every user's pages: sign in and out (/login, /logout), their account (/account)
and their own password (/password).

Any account may sign in; what each user may open afterwards is decided per
page (idm/sessions.py). Signing in is the JSON API's login check, and the
password form calls the same idm/users.py functions as ``PUT /user/<id>``,
so the rules, the lockout and the messages are the same everywhere.
"""

from flask import flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from .. import users
from ..blueprints import PageBlueprint
from ..errors import form_page
from ..sessions import (
    current_user,
    end_session,
    session_required,
    sign_in,
    start_session,
    wanted_page,
)
from ..validation import check_repeated, password_rules

bp = PageBlueprint("account", __name__)


@bp.app_template_filter("when")
def format_moment(moment, seconds=False):
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def landing(user):
    """Where a user starts after signing in: the subjects list, everyone's.

    Admins too: the study is the service's work and most admins are its
    staff as well; the users list is one click away in the navigation.
    """
    return url_for("study.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    user = current_user()
    if user is not None:
        return redirect(landing(user))
    if request.method == "GET":
        return render_template("account/login.html")
    # Read before sign_in: a new session starts from an empty cookie.
    wanted = wanted_page()
    try:
        user = sign_in(request.form.get("username", ""), request.form.get("password", ""))
    except HTTPException as error:
        return form_page("account/login.html", error, username=request.form.get("username"))
    flash(f"Signed in as {user.username}.", "success")
    return redirect(wanted or landing(user))


@bp.post("/logout")
def logout():
    end_session()
    flash("You are signed out.", "success")
    return redirect(url_for(".login"))


@bp.get("/account")
@session_required
def home():
    """The signed-in user's own account: who they are, and what they may open."""
    return render_template("account/home.html")


@bp.route("/password", methods=["GET", "POST"])
@session_required
def change_password():
    """One's own password, as ``PUT /user/<own id>`` with ``current_password`` changes it."""
    if request.method == "GET":
        return render_password()
    form = request.form
    try:
        users.verify_current_password(g.user, form.get("current_password", ""))
        check_repeated(form.get("password", ""), form.get("password2", ""))
        users.update_user(g.user, password=form.get("password", ""))
    except HTTPException as error:
        return render_password(error)
    # This browser stays signed in; every other session and access token of
    # this user ended with the change (set_password moved the cut-off).
    start_session(g.user)
    flash("Your password was changed. Your other sessions and tokens are signed out.", "success")
    return redirect(landing(g.user))


def render_password(error=None):
    return form_page("account/password.html", error, rules=password_rules())


# The addresses these pages had when only admins could sign in, for
# bookmarks and open tabs. 308 keeps the method and the form, so a sign-in
# or sign-out posted from an old page still works.
@bp.route("/admin/login", methods=["GET", "POST"], endpoint="old_login")
def old_login():
    return redirect(url_for(".login"), 308)


@bp.post("/admin/logout", endpoint="old_logout")
def old_logout():
    return redirect(url_for(".logout"), 308)


@bp.route("/admin/password", methods=["GET", "POST"], endpoint="old_password")
def old_password():
    return redirect(url_for(".change_password"), 308)
