"""The JWTs of study links: signed for the QR code, verified on /establish.

A link JWT is what the study's mobile app scans. The app verifies it with
HS256 and the secret it was built with, reads the subject's name (``sub``)
and birthday (``birthdate``), and sends it back as a bearer token to
``aud`` + ``establish``. Signed and verified with PyJWT.

Why this is safe:

* Its own secret, ``IDM_LINK_SECRET``, never ``SECRET_KEY``: every copy of
  the app holds the link secret, so it must sign nothing else. check_config
  refuses a publicly known value (the original service's example, this
  module's development value) and SECRET_KEY itself outside development.
* Never an access token, either way: access tokens are verified with
  another key, issuer and audience (idm/tokens.py), link tokens here with
  the link secret and the algorithm pinned to HS256, so a token of one kind
  fails the other's signature check (``alg: none`` included).
* A valid signature is not enough: the ``jti`` must name a stored link and
  ``iss``/``aud`` must be the ones it was issued with
  (idm/study/links.py), so a token minted by whoever holds the app's secret
  opens nothing without a link's 128 random bits.
* Nothing is stored but the claims: the same token can be signed again,
  and whether a link is still open (expired, withdrawn, established) is
  read from the database, not from the token.
"""

import jwt
from flask import current_app
from werkzeug.exceptions import ServiceUnavailable

from .config import is_development
from .reset import public_base_url

ALGORITHM = "HS256"
# What an empty IDM_LINK_SECRET means in development (debug, tests): public,
# so that a developer can build the app with it. Refused anywhere else.
DEVELOPMENT_SECRET = "insecure-development-link-secret"
# The original service's example value, which deployments copied.
PUBLICLY_KNOWN = frozenset({"super-duper-secret", DEVELOPMENT_SECRET})
REQUIRED_CLAIMS = ["jti", "iss", "aud", "exp", "sub"]


class InvalidLinkToken(Exception):
    """The token is no link token of this service; the message says why (safe to show)."""


def secret():
    """The link secret, or 503 naming the setting while there is none outside development."""
    value = current_app.config["IDM_LINK_SECRET"]
    if value:
        return value
    if is_development(current_app):
        return DEVELOPMENT_SECRET
    raise ServiceUnavailable(
        "study links are disabled: set IDM_LINK_SECRET to the secret the study's app verifies"
        " links with"
    )


def issuer():
    return current_app.config["IDM_LINK_ISSUER"] or public_base_url() + "/"


def audience():
    return current_app.config["IDM_LINK_AUDIENCE"] or public_base_url() + "/"


def sign(claims):
    """The compact JWT of *claims*, HS256 with the link secret."""
    return jwt.encode(claims, secret(), algorithm=ALGORITHM)


def verified_claims(token):
    """The claims of *token* once its signature and shape are right, else InvalidLinkToken.

    ``aud`` and ``iss`` are compared with the link's own by the caller, and
    ``exp`` is read from the link's row: the database says whether a link
    is still open.
    """
    try:
        claims = jwt.decode(
            token,
            secret(),
            algorithms=[ALGORITHM],
            options={"require": REQUIRED_CLAIMS, "verify_aud": False, "verify_exp": False},
        )
    except jwt.MissingRequiredClaimError as error:
        raise InvalidLinkToken(f"link token lacks the {error.claim} claim") from None
    except jwt.InvalidSignatureError:
        raise InvalidLinkToken("link token signature is invalid") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidLinkToken("link token is not signed with HS256") from None
    except jwt.InvalidTokenError:
        raise InvalidLinkToken("link token is malformed") from None
    if not isinstance(claims["jti"], str):
        raise InvalidLinkToken("link token claim jti must be a string")
    return claims


def setting_problems(config, development):
    """What is wrong with the link settings, as (fatal, warnings) messages."""
    fatal, warnings = [], []
    value = config["IDM_LINK_SECRET"]
    if value and value == config["SECRET_KEY"]:
        fatal.append("IDM_LINK_SECRET must not be SECRET_KEY: the study's app holds it")
    lifetime = config["IDM_LINK_LIFETIME"]
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime < 1:
        fatal.append(f"IDM_LINK_LIFETIME must be a positive number of seconds, not {lifetime!r}")
    for name in ("IDM_LINK_ISSUER", "IDM_LINK_AUDIENCE"):
        if config[name] is not None and not str(config[name]).endswith("/"):
            fatal.append(f'{name} must end with "/": the app posts to aud + "establish"')
    if development:
        return fatal, warnings
    if value in PUBLICLY_KNOWN:
        fatal.append("IDM_LINK_SECRET is a publicly known value; set the study's own secret")
    elif value and len(value) < 32:
        # Not refused: the secret is the one the study's app was built with.
        warnings.append(
            "IDM_LINK_SECRET is shorter than 32 characters: whoever has one link JWT"
            " can try to guess it offline; use a long random secret in the next build of the app"
        )
    return fatal, warnings
