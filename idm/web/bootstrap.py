"""/init: the page that creates the first admin, open only while no admin exists."""

import logging

from flask import current_app, render_template, request
from werkzeug.exceptions import Forbidden, HTTPException

from .. import lockout, users
from ..blueprints import PageBlueprint
from ..bootstrap import check_setup_code
from ..errors import form_page
from ..models import admin_exists
from ..validation import check_repeated, password_rules

log = logging.getLogger(__name__)
bp = PageBlueprint("bootstrap", __name__)


@bp.route("/init", methods=["GET", "POST"])
def init():
    if admin_exists():
        status = 403 if request.method == "POST" else 200
        return render_template("ready.html"), status
    if request.method == "GET":
        return render_init()
    lockout.count_init_attempt()  # 429 page with Retry-After once throttled
    form = request.form
    try:
        check_setup_code(form.get("code", ""))
        check_repeated(form.get("password", ""), form.get("password2", ""))
        user = users.create_first_admin(form.get("username", ""), form.get("password", ""))
    except Forbidden as error:
        if admin_exists():
            return render_template("ready.html"), 403
        return render_init(error)
    except HTTPException as error:
        return render_init(error)
    log.warning("first admin %s created through /init", user.username)
    return render_template("ready.html", created=user), 201


def render_init(error=None):
    return form_page(
        "init.html",
        error,
        username=request.form.get("username", ""),
        rules=password_rules(),
        need_code=current_app.config["IDM_INIT_REQUIRE_CODE"],
    )
