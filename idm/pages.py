"""HTML pages: /init now; /iforgot and /reset join them here."""

import hashlib
import hmac
import logging

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException

from . import lockout, users
from .models import admin_exists
from .validation import password_rules

log = logging.getLogger(__name__)
bp = Blueprint("pages", __name__)


def setup_code():
    """The one-time /init code: derived from SECRET_KEY, so every worker and
    the CLI agree without storing it, and nobody without the key can guess it."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, b"idm-init-setup-code", hashlib.sha256).hexdigest()
    return "-".join(digest[i : i + 4] for i in range(0, 12, 4))


def announce_setup():
    """At start-up, say loudly that the service waits for its first admin."""
    if admin_exists():
        return
    log.warning("=" * 64)
    log.warning("NO ADMIN EXISTS: open /init to create the first admin account.")
    if current_app.config["IDM_INIT_REQUIRE_CODE"]:
        log.warning("/init asks for this setup code: %s", setup_code())
    log.warning("=" * 64)


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
        if form.get("password", "") != form.get("password2", ""):
            raise BadRequest("the two passwords do not match")
        user = users.create_first_admin(form.get("username", ""), form.get("password", ""))
    except Forbidden as error:
        if admin_exists():
            return render_template("ready.html"), 403
        return render_init(error.description, error.code)
    except HTTPException as error:
        return render_init(error.description, error.code)
    log.warning("first admin %s created through /init", user.username)
    return render_template("ready.html", created=user), 201


def check_setup_code(code):
    if not current_app.config["IDM_INIT_REQUIRE_CODE"]:
        return
    if not hmac.compare_digest(code.strip().encode(), setup_code().encode()):
        raise Forbidden("the setup code is wrong; it is in the service's log")


def render_init(error=None, status=200):
    page = render_template(
        "init.html",
        error=error,
        username=request.form.get("username", ""),
        rules=password_rules(),
        need_code=current_app.config["IDM_INIT_REQUIRE_CODE"],
    )
    return page, status
