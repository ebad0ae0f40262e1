"""Access tokens: short-lived JWTs signed with the app's SECRET_KEY.

Why this is safe:

* Verification is pinned to the one configured algorithm, so a token that
  says ``alg: none`` or swaps HMAC for RSA is refused before its claims are
  read; the key never comes from the token.
* ``iss``, ``aud``, ``sub``, ``iat``, ``exp`` and ``jti`` are all required,
  and ``iss``/``aud`` must match, so a JWT minted for another service that
  shares the key is refused.
* Times are checked here against ``clock.now()`` rather than inside PyJWT,
  so tests can move the clock; ``iat`` keeps microseconds so that a password
  change and a token issued in the same second are ordered correctly (see
  ``User.tokens_valid_after``).
* A valid signature only proves who issued the token. Whether its user still
  exists, is still an admin, and has not changed password or logged the
  token out since is decided in auth.py against the database, per request.
"""

import uuid

import jwt
from flask import current_app

from . import clock

REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti"]
# Tolerated clock difference between hosts sharing the key, in seconds, for
# iat only: an expired token is expired, whatever the host.
LEEWAY = 30


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (safe to show)."""


def issue_access_token(user, auth_time=None):
    """Return ``(token, expires_in)`` for *user*.

    *auth_time* is when the user last proved their password; a refreshed
    token carries the original one forward.
    """
    config = current_app.config
    now = clock.now().timestamp()
    lifetime = config["IDM_ACCESS_TOKEN_LIFETIME"]
    claims = {
        "iss": config["IDM_JWT_ISSUER"],
        "aud": config["IDM_JWT_AUDIENCE"],
        "sub": user.id,
        "iat": round(now, 6),
        "exp": int(now) + lifetime,
        "jti": uuid.uuid4().hex,
        "auth_time": int(auth_time if auth_time is not None else now),
    }
    token = jwt.encode(claims, config["SECRET_KEY"], config["IDM_JWT_ALGORITHM"])
    return token, lifetime


def decode_access_token(token):
    """Return the verified claims of *token* or raise ``InvalidToken``."""
    config = current_app.config
    try:
        claims = jwt.decode(
            token,
            config["SECRET_KEY"],
            algorithms=[config["IDM_JWT_ALGORITHM"]],
            audience=config["IDM_JWT_AUDIENCE"],
            issuer=config["IDM_JWT_ISSUER"],
            options={
                "require": REQUIRED_CLAIMS,
                "verify_exp": False,  # checked below against clock.now()
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidTokenError as error:
        raise InvalidToken(describe(error)) from None
    check_times(claims)
    return claims


def check_times(claims):
    now = clock.now().timestamp()
    for name in ("iat", "exp"):
        if not isinstance(claims[name], int | float) or isinstance(claims[name], bool):
            raise InvalidToken(f"token claim {name} must be a number")
    if claims["exp"] <= now:
        raise InvalidToken("token has expired")
    if claims["iat"] > now + LEEWAY:
        raise InvalidToken("token is issued in the future")
    if not isinstance(claims.get("auth_time", claims["iat"]), int | float):
        raise InvalidToken("token claim auth_time must be a number")


def describe(error):
    """A short reason that reveals nothing about the key."""
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"token lacks the {error.claim} claim"
    if isinstance(error, jwt.InvalidAudienceError):
        return "token is for another audience"
    if isinstance(error, jwt.InvalidIssuerError):
        return "token is from another issuer"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "token is signed with an algorithm this service does not accept"
    if isinstance(error, jwt.InvalidSignatureError):
        return "token signature is invalid"
    return "token is malformed"
