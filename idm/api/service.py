"""Service endpoints: GET /, GET /status and GET /openapi.json."""

import logging

from flask import render_template
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .. import openapi
from ..auth import authenticate_request, bearer_token
from ..blueprints import ApiBlueprint
from ..logs import one_line
from ..mail import health
from ..models import admin_exists, db
from ..requests import prefers_html
from ..reset import public_base_url

log = logging.getLogger(__name__)
bp = ApiBlueprint("service", __name__)


@bp.get("/")
def index():
    """``{"status": "ready"}`` without touching the database; a browser gets a page."""
    if prefers_html():
        return render_template("home.html", setup_open=setup_open())
    return {"status": "ready"}


def setup_open():
    """Whether /init still waits for the first admin; False when that cannot be told."""
    try:
        return not admin_exists()
    except SQLAlchemyError:
        db.session.rollback()
        return False


@bp.get("/status")
def status():
    """Health of each part; 503 when the database is unreachable.

    Anonymous callers (load balancers) see only "ok"/"unavailable"; an admin
    token adds the reasons, which may name hosts and must not leak, and the
    outbox's depth and the age of its oldest email.
    """
    reasons = {}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:  # any driver error means "unavailable"
        reasons["db"] = one_line(error)
        log.warning("status: database unavailable: %s", reasons["db"])
        db.session.rollback()
    mail_problem = health.problem()
    if mail_problem:
        reasons["mail"] = mail_problem
    data = {part: "unavailable" if part in reasons else "ok" for part in ("db", "mail")}
    if "db" not in reasons and caller_is_admin():
        data["reasons"] = reasons
        data["mail_queue"] = health.queue()
    return {"data": data}, 503 if "db" in reasons else 200


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 description of every JSON route (idm/openapi.yaml)."""
    return openapi.document(public_base_url())


def caller_is_admin():
    if bearer_token() is None:
        return False
    try:
        return authenticate_request().admin
    except HTTPException:
        return False  # a bad token on /status is just an anonymous caller
