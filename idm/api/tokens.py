"""Access tokens: POST /auth (password login), /auth/refresh, /auth/logout, /auth/introspect."""

from flask import current_app, g, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, Forbidden, Unauthorized, UnsupportedMediaType

from .. import audit, clock, introspection
from ..auth import (
    ADMIN_REQUIRED,
    AuthenticationRequired,
    authenticate_request,
    bearer_token,
    login_required,
    token_holder,
)
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


class ClientAuthenticationRequired(Unauthorized):
    """401 for POST /auth/introspect: a client's Basic credentials or an admin's token."""

    def get_headers(self, environ=None, scope=None):
        challenge = 'Basic realm="idm", Bearer realm="idm"'
        return [("Content-Type", "application/json"), ("WWW-Authenticate", challenge)]


@bp.post("/auth/introspect")
def introspect():
    """RFC 7662: whether a token is active right now, and its claims.

    For resource servers: a client of IDM_INTROSPECTION_CLIENTS (HTTP Basic)
    or an admin (Bearer token). Every inactive token gets the same answer.
    """
    authorize_introspection()
    token = introspected_token()
    try:
        user, claims = token_holder(token)
    except AuthenticationRequired:
        return introspection.INACTIVE, 200, {"Cache-Control": "no-store"}
    return introspection.answer(user, claims), 200, {"Cache-Control": "no-store"}


def authorize_introspection():
    basic = request.authorization
    if basic is not None and basic.type == "basic":
        if not introspection.client_allowed(basic.username or "", basic.password or ""):
            raise ClientAuthenticationRequired("the client id or secret is wrong")
    elif bearer_token() is not None:
        if not authenticate_request().admin:
            raise Forbidden(ADMIN_REQUIRED)
    else:
        raise ClientAuthenticationRequired(
            "authentication required: send a client's id and secret as HTTP Basic"
            " credentials, or an admin's Authorization: Bearer <token>"
        )


def introspected_token():
    """``token`` of a form (RFC 7662) or a JSON body; ``token_type_hint`` is read
    and ignored, as this service has one kind of token."""
    allowed = {"token", "token_type_hint"}
    if request.mimetype == "application/x-www-form-urlencoded":
        data = request.form.to_dict(flat=False)
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise BadRequest(f"unknown field: {unknown[0]}")
        if any(len(values) > 1 for values in data.values()):
            raise BadRequest("each field may be sent once")
        data = {name: values[0] for name, values in data.items()}
    elif request.is_json:
        data = json_object(allowed=allowed)
    elif not request.content_length and not request.mimetype:
        data = {}  # nothing sent at all: say what is missing
    else:
        raise UnsupportedMediaType(
            "send token= form-encoded (application/x-www-form-urlencoded), or a JSON object"
        )
    string_field(data, "token_type_hint", required=False)
    token = string_field(data, "token")
    if not token:
        raise BadRequest("token is required")
    return token
