"""The password-reset pages: /iforgot asks for a link, /reset uses it.

Parse the form, call idm/reset.py, answer; the rules live there. Every
failure re-renders the page with the reason and status 400.
"""

from flask import current_app, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from .. import reset
from ..blueprints import PageBlueprint
from ..errors import form_page
from ..validation import password_rules

bp = PageBlueprint("reset", __name__)
bp.add_app_template_filter(reset.describe_seconds, "duration")


@bp.route("/iforgot", methods=["GET", "POST"])
def iforgot():
    if request.method == "GET":
        return render_template("iforgot.html", username="")
    username = request.form.get("username", "")
    try:
        username = reset.request_reset(username)
    except HTTPException as error:
        return form_page("iforgot.html", error, username=username)
    # The same page whether or not the account exists (or was throttled).
    return render_template("iforgot.html", username=username, requested=True)


@bp.get("/reset")
def reset_form():
    key = request.args.get("k", "")
    try:
        _, user = reset.valid_token(key)
    except reset.BadLink as error:
        return bad_link(error)
    return render_reset_form(key, user)


@bp.post("/reset")
def reset_password():
    form = request.form
    key = form.get("key", "")
    try:
        token, user = reset.valid_token(key)
        reset.complete_reset(token, user, form.get("pass1", ""), form.get("pass2", ""))
    except reset.BadLink as error:
        return bad_link(error)
    except HTTPException as error:
        return render_reset_form(key, user, error)
    # The service's own sign-in page unless people sign in elsewhere.
    sign_in = current_app.config["IDM_SIGN_IN_URL"] or url_for("account.login")
    return render_template("reset_done.html", username=user.username, sign_in=sign_in)


def render_reset_form(key, user, error=None):
    return form_page("reset.html", error, key=key, username=user.username, rules=password_rules())


def bad_link(error):
    return form_page("reset.html", error, key=None)
