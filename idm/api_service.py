"""Service endpoints: GET / and GET /status (for humans and load balancers)."""

import logging

from flask import Blueprint
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from . import mail
from .auth import authenticate_request, bearer_token
from .models import db

log = logging.getLogger(__name__)
bp = Blueprint("service", __name__)


@bp.get("/")
def index():
    return {"status": "ready"}


@bp.get("/status")
def status():
    """Health of each part; 503 when the database is unreachable.

    Anonymous callers (load balancers) see only "ok"/"unavailable"; an admin
    token adds the reasons, which may name hosts and must not leak.
    """
    reasons = {}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:  # any driver error means "unavailable"
        log.warning("status: database unavailable: %s", error)
        db.session.rollback()
        reasons["db"] = f"{type(error).__name__}: {error}".splitlines()[0]
    mail_problem = mail.problem()
    if mail_problem:
        reasons["mail"] = mail_problem
    data = {part: "unavailable" if part in reasons else "ok" for part in ("db", "mail")}
    if "db" not in reasons and caller_is_admin():
        data["reasons"] = reasons
    return {"data": data}, 503 if "db" in reasons else 200


def caller_is_admin():
    if bearer_token() is None:
        return False
    try:
        return authenticate_request().admin
    except HTTPException:
        return False  # a bad token on /status is just an anonymous caller
