"""Access tokens: POST /auth (password login), /auth/refresh and /auth/logout."""

from flask import current_app, g, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest

from .. import audit, clock
from ..auth import AuthenticationRequired, login_required
from ..blueprints import ApiBlueprint
from ..models import db
from ..requests import flag_arg, json_object, query_parameters, string_field
from ..revocation import revoke_all_tokens, revoke_token
from ..tokens import token_response
from ..users import BAD_CREDENTIALS, authenticate

bp = ApiBlueprint("tokens", __name__)


def credentials():
    """(username, password) from HTTP Basic or from a JSON body."""
    basic = request.authorization
    if basic is not None and basic.type == "basic":
        username, password = basic.username or "", basic.password or ""
    elif request.headers.get("Authorization", "").lower().startswith("basic"):
        raise BadRequest("the Basic credentials are malformed: send base64 of username:password")
    else:
        data = json_object(allowed={"username", "password"})
        username = string_field(data, "username")
        password = string_field(data, "password")
    if "\x00" in username + password:
        raise AuthenticationRequired(BAD_CREDENTIALS)
    return username, password


@bp.post("/auth")
def login():
    username, password = credentials()
    user = authenticate(username, password)
    if user is None:
        raise AuthenticationRequired(BAD_CREDENTIALS)
    return token_response(user)


@bp.post("/auth/refresh")
@login_required
def refresh():
    """A new token for a valid one, until IDM_REFRESH_LIMIT after the password login.

    The original login time travels forward in ``auth_time``, so refreshing
    cannot stretch a session past the limit; the old token is retired, so a
    stolen copy of it is worth nothing once the owner refreshed.
    """
    claims = g.claims
    auth_time = claims.get("auth_time", claims["iat"])
    if clock.now().timestamp() >= auth_time + current_app.config["IDM_REFRESH_LIMIT"]:
        raise AuthenticationRequired(
            "refresh limit reached: log in with your password again", token_sent=True
        )
    revoke_token(claims)
    audit.record("refresh", target=g.user)
    commit_revocation()
    return token_response(g.user, auth_time)


@bp.post("/auth/logout")
@login_required
@query_parameters("all")
def logout():
    """204; this token is dead from now on. ``?all=1`` ends every token of the user."""
    if flag_arg("all"):
        revoke_all_tokens(g.user)
    else:
        revoke_token(g.claims)
    audit.record("logout", target=g.user)
    commit_revocation()
    return "", 204


def commit_revocation():
    try:
        db.session.commit()
    except IntegrityError:
        # A racing logout or refresh of this very token committed first.
        db.session.rollback()
        raise AuthenticationRequired("token was logged out", token_sent=True) from None
