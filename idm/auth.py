"""Who is calling: the Authorization header -> ``g.user``, and access decorators.

401 answers "who are you?", 403 answers "you may not" (Flask-Security's split).
"""

import functools

from flask import g, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import bindparam, exists, select
from werkzeug.exceptions import Forbidden, Unauthorized

from .models import RevokedToken, User, db
from .tokens import InvalidToken, decode_access_token

csrf = CSRFProtect()

# Flask-JWT clients send "JWT <token>"; OAuth 2.0 clients send "Bearer <token>".
TOKEN_SCHEMES = {"bearer", "jwt"}

# The one query of every authenticated request, built once: the user's row
# (admin, tokens_valid_after) and whether this token was logged out, both by
# primary key. Building the statement per request cost more than running it.
USER_AND_REVOCATION = select(
    User, exists().where(RevokedToken.jti == bindparam("jti")).label("logged_out")
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
    """Set ``g.user`` and ``g.claims`` from a valid token or raise 401.

    The token's signature is checked first, then ONE query (primary keys
    only) loads the user and says whether the token was logged out; the row
    tells whether the token predates the user's last password change or
    logout of all tokens. Admin rights come from that row, never the token.
    Nothing is cached between requests, so every worker sees every change.
    """
    token = bearer_token()
    if token is None:
        raise AuthenticationRequired("authentication required: send Authorization: Bearer <token>")
    try:
        claims = decode_access_token(token)
    except InvalidToken as error:
        raise AuthenticationRequired(str(error), token_sent=True) from None
    parameters = {"sub": claims["sub"], "jti": claims["jti"]}
    row = db.session.execute(USER_AND_REVOCATION, parameters).first()
    if row is None:
        raise AuthenticationRequired("token's user no longer exists", token_sent=True)
    user, logged_out = row
    if logged_out:
        raise AuthenticationRequired("token was logged out", token_sent=True)
    valid_after = user.tokens_valid_after
    if valid_after is not None and claims["iat"] < valid_after.timestamp():
        raise AuthenticationRequired("token was revoked", token_sent=True)
    g.user, g.claims = user, claims
    return user


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
            raise Forbidden("admin rights required")
        return view(**kwargs)

    return wrapped
