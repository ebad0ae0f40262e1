"""Token introspection (RFC 7662): which resource servers may ask, and the answer.

A resource server that verifies tokens with the JWKS learns only that the
service signed them; whether the token was logged out, its user deleted or
demoted since, only the service knows. POST /auth/introspect tells it.

Why this is safe:

* Clients authenticate with HTTP Basic: a client id from
  IDM_INTROSPECTION_CLIENTS and a secret of 256 random bits, of which the
  settings hold only the SHA-256 (``new_client_secret`` makes both). A slow
  password hash would buy nothing against so long a random secret and
  would cost every call; the comparison is in constant time, and an
  unknown client id does the same work as a known one.
* An inactive token is answered ``{"active": false}`` and nothing else, so
  the answer never tells why (RFC 7662 section 2.2).
"""

import hashlib
import hmac
import secrets

from flask import current_app

DIGEST_PREFIX = "sha256:"
# Compared against when the client id is unknown, so that both take as long.
UNKNOWN_CLIENT = DIGEST_PREFIX + "0" * 64
INACTIVE = {"active": False}


def secret_digest(secret):
    return DIGEST_PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def new_client_secret():
    """``(secret, digest)``: the secret goes to the client, the digest to the settings."""
    secret = secrets.token_urlsafe(32)
    return secret, secret_digest(secret)


def client_allowed(client_id, secret):
    """Whether *client_id* and *secret* are one of IDM_INTROSPECTION_CLIENTS."""
    expected = current_app.config["IDM_INTROSPECTION_CLIENTS"].get(client_id)
    try:
        digest = secret_digest(secret)
    except UnicodeEncodeError:  # a lone surrogate: no secret of ours
        return False
    matches = hmac.compare_digest(digest, expected or UNKNOWN_CLIENT)
    return matches and expected is not None


def answer(user, claims):
    """The answer for an active token of *user* (an auth.Caller, read just now).

    ``admin`` comes from the database, like every admin check of the
    service: a user demoted since the token was issued has a token that is
    still active, with ``admin: false``.
    """
    found = {name: claims[name] for name in ("iss", "aud", "sub", "exp", "iat", "jti")}
    for name in ("nbf", "auth_time"):
        if name in claims:
            found[name] = claims[name]
    return {
        "active": True,
        **found,
        "username": user.username,
        "admin": user.admin,
        "token_type": "Bearer",
    }
