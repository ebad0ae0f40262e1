"""Access tokens: short-lived JWTs, signed and verified with PyJWT.

Which key signs and which keys verify is idm/keys.py's and idm/keyring.py's
business; this module makes and reads the tokens.

Why this is safe:

* The key comes from the token's ``kid`` header, never the algorithm: each
  key verifies with its own algorithm only (a key pair with exactly its
  one, an HMAC secret with HMAC), so ``alg: none``, an HMAC token made
  with a public key, or any algorithm the key was not made for is refused
  before the signature is looked at. A retired key verifies nothing.
* Before PyJWT sees it the token must be at most 4 KiB, three segments of
  unpadded base64url, and its header and payload JSON objects in UTF-8,
  without duplicate names (which a parser elsewhere could read the other
  way), NaN or Infinity. A ``crit`` header is refused: this service
  understands no extension. PyJWT then checks the signature, in constant
  time, and that ``iss`` and ``aud`` are ours, so a JWT minted for another
  service that shares a key is refused.
* ``iss``, ``aud``, ``sub``, ``iat``, ``exp`` and ``jti`` are required. The
  times (and ``nbf``, ``auth_time`` when present) must be numbers between
  1970 and 9999, so an absurd one is a 401, never an overflow later on;
  they are checked against ``clock.now()`` (tests move the clock). ``iat``
  keeps microseconds, so that a password change and a token issued in the
  same second are ordered correctly (``User.tokens_valid_after``).
* A valid signature only proves who issued the token. Whether its user
  still exists, is still an admin, and has not changed password or logged
  the token out since is decided in idm/auth.py against the database.
"""

import base64
import binascii
import json
import re
import uuid

import jwt
from flask import current_app
from jwt.utils import base64url_decode, base64url_encode

from . import clock, keyring, metrics
from .keys import HMAC_ALGORITHMS, KEY_PAIR_ALGORITHMS

ALGORITHMS = (*KEY_PAIR_ALGORITHMS, *HMAC_ALGORITHMS)
REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti"]
TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")
# Tolerated clock difference between hosts, in seconds, for iat and nbf
# only: an expired token is expired, whatever the host.
LEEWAY = 30
# 9999-12-31T23:59:59Z: the last second a datetime holds.
LATEST_TIME = 253402300799
# Ours are 32 hex digits; a logout stores them in a column of this size.
MAX_JTI_LENGTH = 64
# Ours are about 650 characters (RS256); anything far longer is not one of ours.
MAX_TOKEN_LENGTH = 4096
# The signature may be empty, so that an "alg: none" token is told why it fails.
COMPACT_FORM = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)")
SEGMENT = re.compile(rb"[A-Za-z0-9_-]*")
# What PyJWT's refusals mean, in the words the API answers with.
REASONS = [
    (jwt.InvalidSignatureError, "token signature is invalid"),
    (jwt.InvalidAlgorithmError, "token is signed with an algorithm this service does not accept"),
    (jwt.InvalidIssuerError, "token is from another issuer"),
    (jwt.InvalidAudienceError, "token is for another audience"),
    (jwt.exceptions.InvalidSubjectError, "token claim sub must be a string"),
    (jwt.exceptions.InvalidJTIError, "token claim jti must be a string"),
]


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (safe to show)."""


class StrictJWS(jwt.PyJWS):
    """PyJWS, reading each segment with one regular expression.

    PyJWT checks the alphabet of a segment with a Python loop over every
    character: half of its time on an RS256 token (342 characters of
    signature), 20 us per request. This does the same checks (base64url
    alphabet, canonical form) at C speed, and refuses padding, which the
    service never writes (tests/test_tokens.py holds both to PyJWT's answers).
    """

    @staticmethod
    def _decode_base64url_segment(segment, name):
        if len(segment) % 4 == 1 or not SEGMENT.fullmatch(segment):
            raise jwt.DecodeError(f"Invalid {name} padding")
        decoded = base64url_decode(segment)
        if base64url_encode(decoded) != segment:  # unused low bits set: another spelling
            raise jwt.DecodeError(f"Invalid {name} padding")
        return decoded


class StrictJWT(jwt.PyJWT):
    """PyJWT, reading the payload as strictly as ``strict_json`` reads the header."""

    def __init__(self, options=None):
        super().__init__(options)
        self._jws = StrictJWS(options=self._get_sig_options())

    def _decode_payload(self, decoded):
        # The documented way to change how PyJWT reads a payload.
        try:
            return strict_json(decoded["payload"])
        except InvalidToken:
            raise jwt.DecodeError("the payload is not a strict JSON object") from None


# Times are checked by check_times against clock.now(); PyJWT would read the
# system clock.
DECODER = StrictJWT(
    options={
        "verify_exp": False,
        "verify_iat": False,
        "verify_nbf": False,
        "require": REQUIRED_CLAIMS,
    }
)


def issue_access_token(user, auth_time=None):
    """Return ``(token, expires_in)`` for *user*.

    *auth_time* is when the user last proved their password; a refreshed
    token carries the original one forward.
    """
    config = current_app.config
    signer = keyring.signing_key()
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
    token = jwt.encode(claims, signer.key, signer.algorithm, headers={"kid": signer.kid})
    return token, lifetime


def token_response(user, auth_time=None):
    """The JSON answer that hands *user* a new token (POST /auth and friends)."""
    token, expires_in = issue_access_token(user, auth_time)
    metrics.TOKENS.labels("issued" if auth_time is None else "refreshed").inc()
    return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}


def decode_access_token(token):
    """Return the verified claims of *token* or raise ``InvalidToken``."""
    config = current_app.config
    header = checked_header(token)
    algorithm = header.get("alg")
    key = keyring.verifying_key(header.get("kid"))
    if key is None:
        raise InvalidToken("token is signed with a key this service does not know")
    if algorithm not in key.algorithms:
        raise InvalidToken("token is signed with an algorithm this service does not accept")
    if key.retires_at is not None and clock.now().timestamp() >= key.retires_at:
        raise InvalidToken("token is signed with a retired key")
    try:
        claims = DECODER.decode(
            token,
            key.key,
            algorithms=[algorithm],
            audience=config["IDM_JWT_AUDIENCE"],
            issuer=config["IDM_JWT_ISSUER"],
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(reason(error)) from None
    check_times(claims)
    if len(claims["jti"]) > MAX_JTI_LENGTH:  # a logout stores it: RevokedToken.jti
        raise InvalidToken("token claim jti is too long")
    if key.issued_before is not None and claims["iat"] >= key.issued_before:
        # SECRET_KEY signs no token after the upgrade; one that says so is forged.
        raise InvalidToken("token is signed with a retired key")
    return claims


def reason(error):
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"token lacks the {error.claim} claim"
    for kind, message in REASONS:
        if isinstance(error, kind):
            return message
    return "token is malformed"


def checked_header(token):
    """The header of *token* once its form is right, before any key is chosen."""
    match = COMPACT_FORM.fullmatch(token) if len(token) <= MAX_TOKEN_LENGTH else None
    if match is None:
        raise InvalidToken("token is malformed")
    segment = match.group(1)
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error:  # a length of 4n + 1
        raise InvalidToken("token is malformed") from None
    header = strict_json(raw)
    kid = header.get("kid")
    if "crit" in header or not (kid is None or isinstance(kid, str)):
        raise InvalidToken("token is malformed")
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("token is signed with an algorithm this service does not accept")
    return header


def strict_json(raw):
    """The JSON object in the UTF-8 bytes *raw*, or ``InvalidToken``.

    json.loads would guess UTF-16 or UTF-32 for bytes and let lone
    surrogates through; the last of two equal names would win silently.
    """
    try:
        data = JSON.decode(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # bad UTF-8 and bad JSON are ValueErrors
        raise InvalidToken("token is malformed") from None
    if not isinstance(data, dict):
        raise InvalidToken("token is malformed")
    return data


def unique_names(pairs):
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("a name appears twice")
    return data


def refuse_constant(name):
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python's extension


# Built once: json.loads with hooks builds a decoder per call.
JSON = json.JSONDecoder(object_pairs_hook=unique_names, parse_constant=refuse_constant)


def check_times(claims):
    now = clock.now().timestamp()
    for name in TIME_CLAIMS:
        value = claims.get(name)
        if value is None and name in ("nbf", "auth_time"):
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidToken(f"token claim {name} must be a number")
        if not 0 <= value <= LATEST_TIME:  # also 1e999, which JSON reads as infinity
            raise InvalidToken(f"token claim {name} is out of range")
    if claims["exp"] <= now:
        raise InvalidToken("token has expired")
    if claims["iat"] > now + LEEWAY:
        raise InvalidToken("token is issued in the future")
    if claims.get("nbf", 0) > now + LEEWAY:
        raise InvalidToken("token is not valid yet")
