"""Who is calling: the Authorization header -> ``g.user``, and access decorators.

401 answers "who are you?", 403 answers "you may not" (Flask-Security's split).
"""

import dataclasses
import functools
from datetime import datetime

from flask import g, request
from sqlalchemy import bindparam, exists, select
from werkzeug.exceptions import Forbidden, Unauthorized

from .models import RevokedToken, User, db
from .tokens import InvalidToken, decode_access_token

# The answer to a valid token without admin rights, on the API and the pages alike.
ADMIN_REQUIRED = "admin rights required"
# Flask-JWT clients send "JWT <token>"; OAuth 2.0 clients send "Bearer <token>".
TOKEN_SCHEMES = {"bearer", "jwt"}


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """The user who sent the token, as their row reads during this request.

    The JSON API's ``g.user``: enough to decide access and answer /user/me,
    and read-only. A view that changes the caller's account loads the
    ``User`` through the service layer (``users.find_user``), as it would
    any other account. (Admin pages set ``g.user`` to the ``User`` itself.)
    """

    id: str
    username: str
    admin: bool
    created: datetime
    changed: datetime | None
    last_login: datetime | None
    tokens_valid_after: datetime | None

    to_json = User.to_json  # the same allow-list as every user's JSON


# The one query of every authenticated request, built once: the caller's row
# (less the password hash) and whether this token was logged out, both by
# primary key. It runs on a Core connection and fills a Caller, not on the
# ORM session into a User: through the session (its transaction, unit of
# work and teardown) into an instrumented User it took 215 us, this way
# 89 us (docs/performance.md), on the path of every request.
CALLER_AND_REVOCATION = select(
    *(User.__table__.c[field.name] for field in dataclasses.fields(Caller)),
    exists().where(RevokedToken.jti == bindparam("jti")).label("logged_out"),
).where(User.id == bindparam("sub"))


class AuthenticationRequired(Unauthorized):
    """401 with the RFC 6750 challenge; ``invalid_token`` when one was sent."""

    def __init__(self, description, token_sent=False):
        super().__init__(description)
        self.token_sent = token_sent

    def get_headers(self, environ=None, scope=None):
        challenge = 'Bearer realm="idm"'
        if self.token_sent:
            challenge += ', error="invalid_token"'
        return [("Content-Type", "application/json"), ("WWW-Authenticate", challenge)]


def bearer_token():
    """The token of the Authorization header, or None when there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() not in TOKEN_SCHEMES:
        return None
    return token.strip()


def authenticate_request():
    """Set ``g.user`` (a Caller) and ``g.claims`` from a valid token or raise 401."""
    token = bearer_token()
    if token is None:
        raise AuthenticationRequired("authentication required: send Authorization: Bearer <token>")
    user, claims = token_holder(token)
    g.user, g.claims = user, claims
    return user


def token_holder(token):
    """``(Caller, claims)`` of a token that is good right now, or 401 saying why.

    The token's signature is checked first, then ONE query (primary keys
    only) reads the user and says whether the token was logged out; the row
    tells whether the token predates the user's last password change or
    logout of all tokens. Admin rights come from that row, never the token.
    Nothing about users is cached between requests, so every worker sees
    every change. (POST /auth/introspect asks the same question for others.)
    """
    try:
        claims = decode_access_token(token)
    except InvalidToken as error:
        raise AuthenticationRequired(str(error), token_sent=True) from None
    parameters = {"sub": claims["sub"], "jti": claims["jti"]}
    with db.engine.connect() as connection:
        row = connection.execute(CALLER_AND_REVOCATION, parameters).first()
    if row is None:
        raise AuthenticationRequired("token's user no longer exists", token_sent=True)
    *columns, logged_out = row
    if logged_out:
        raise AuthenticationRequired("token was logged out", token_sent=True)
    user = Caller(*columns)
    valid_after = user.tokens_valid_after
    if valid_after is not None and claims["iat"] < valid_after.timestamp():
        raise AuthenticationRequired("token was revoked", token_sent=True)
    return user, claims


def login_required(view):
    @functools.wraps(view)
    def wrapped(**kwargs):
        authenticate_request()
        return view(**kwargs)

    return wrapped


def admin_required(view):
    @functools.wraps(view)
    def wrapped(**kwargs):
        if not authenticate_request().admin:
            raise Forbidden(ADMIN_REQUIRED)
        return view(**kwargs)

    return wrapped
