"""Access tokens: short-lived JWTs signed with the app's SECRET_KEY.

The service both signs and verifies its tokens with one shared key, so it
needs one corner of JOSE: the compact form of a JWS with an HMAC algorithm
(RFC 7515, 7518 3.2, 7519). That corner is written out here, in a few lines
that read against the RFCs, rather than taken from a general JWT library:
verifying a token is on every authenticated request, and PyJWT spent 60 us
of it on options and algorithms the service never uses (docs/performance.md).
tests/test_tokens.py holds this module to PyJWT's answers, both ways.

Why this is safe:

* The algorithm is pinned to the configured one (``IDM_JWT_ALGORITHM``): a
  header that says ``alg: none``, another HMAC, or RSA is refused before the
  signature is looked at; the key and algorithm never come from the token.
* The signature is compared in constant time, and the claims are only read
  after it matched. A header with ``crit`` (extensions that the receiver
  must understand) is refused: this service understands none.
* The parser is strict: exactly three segments of unpadded, canonical
  base64url; JSON objects only; no NaN or Infinity; at most 4 KiB.
* ``iss``, ``aud``, ``sub``, ``iat``, ``exp`` and ``jti`` are all required,
  and ``iss``/``aud`` must match, so a JWT minted for another service that
  shares the key is refused.
* Times are checked against ``clock.now()``, so tests can move the clock;
  ``iat`` keeps microseconds so that a password change and a token issued in
  the same second are ordered correctly (see ``User.tokens_valid_after``).
* A valid signature only proves who issued the token. Whether its user still
  exists, is still an admin, and has not changed password or logged the
  token out since is decided in idm/auth.py against the database, per request.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid

from flask import current_app

from . import clock, metrics

# The algorithms IDM_JWT_ALGORITHM may name; check_config refuses others.
HMAC_ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti"]
# Tolerated clock difference between hosts sharing the key, in seconds, for
# iat only: an expired token is expired, whatever the host.
LEEWAY = 30
# Ours are about 350 characters; anything far longer is not one of ours.
MAX_TOKEN_LENGTH = 4096
# The signature may be empty, so that an "alg: none" token is told why it fails.
COMPACT_FORM = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)")


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
    return sign(claims, config["SECRET_KEY"], config["IDM_JWT_ALGORITHM"]), lifetime


def token_response(user, auth_time=None):
    """The JSON answer that hands *user* a new token (POST /auth and friends)."""
    token, expires_in = issue_access_token(user, auth_time)
    metrics.TOKENS.labels("issued" if auth_time is None else "refreshed").inc()
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


def decode_access_token(token):
    """Return the verified claims of *token* or raise ``InvalidToken``."""
    config = current_app.config
    claims = verified_claims(token, config["SECRET_KEY"], config["IDM_JWT_ALGORITHM"])
    for name in REQUIRED_CLAIMS:
        if name not in claims:
            raise InvalidToken(f"token lacks the {name} claim")
    if claims["iss"] != config["IDM_JWT_ISSUER"]:
        raise InvalidToken("token is from another issuer")
    audience = claims["aud"]
    # RFC 7519 4.1.3: one audience, or a list of them.
    if audience != config["IDM_JWT_AUDIENCE"] and not (
        isinstance(audience, list) and config["IDM_JWT_AUDIENCE"] in audience
    ):
        raise InvalidToken("token is for another audience")
    for name in ("sub", "jti"):
        if not isinstance(claims[name], str):
            raise InvalidToken(f"token claim {name} must be a string")
    check_times(claims)
    return claims


def sign(claims, key, algorithm):
    """The compact JWS of *claims*: header.payload.signature."""
    header = {"alg": algorithm, "typ": "JWT"}
    signing_input = encode_segment(header) + b"." + encode_segment(claims)
    signature = mac(key, algorithm, signing_input)
    return (signing_input + b"." + base64url(signature)).decode("ascii")


def verified_claims(token, key, algorithm):
    """The payload of *token* once its header and signature are right."""
    match = COMPACT_FORM.fullmatch(token) if len(token) <= MAX_TOKEN_LENGTH else None
    if match is None:
        raise InvalidToken("token is malformed")
    header_segment, payload_segment, signature_segment = match.groups()
    header = decode_segment(header_segment)
    if header.get("alg") != algorithm:
        raise InvalidToken("token is signed with an algorithm this service does not accept")
    if "crit" in header:
        raise InvalidToken("token is malformed")
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    expected = mac(key, algorithm, signing_input)
    if not hmac.compare_digest(expected, unbase64url(signature_segment)):
        raise InvalidToken("token signature is invalid")
    return decode_segment(payload_segment)


def mac(key, algorithm, message):
    key = key.encode() if isinstance(key, str) else key
    return hmac.digest(key, message, HMAC_ALGORITHMS[algorithm])


def encode_segment(data):
    return base64url(json.dumps(data, separators=(",", ":")).encode())


def decode_segment(segment):
    """A JSON object from one base64url segment, or ``InvalidToken``."""
    try:
        data = json.loads(unbase64url(segment), parse_constant=refuse_constant)
    except (ValueError, RecursionError):  # bad UTF-8 and bad JSON are ValueErrors
        raise InvalidToken("token is malformed") from None
    if not isinstance(data, dict):
        raise InvalidToken("token is malformed")
    return data


def refuse_constant(name):
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python's extension


def base64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def unbase64url(segment):
    """Bytes of a canonical, unpadded base64url segment (the pattern checked the alphabet)."""
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error:  # a length of 4n + 1
        raise InvalidToken("token is malformed") from None
    # Unused low bits must be zero, or one token would have many spellings.
    if base64url(data) != segment.encode("ascii"):
        raise InvalidToken("token is malformed")
    return data


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
