"""Rules for usernames and passwords, shared by the JSON API, the pages and the CLI.

Each check returns the normalized value or raises ``BadRequest`` whose
description says what is wrong, in words fit for an end user. Usernames
have three functions: ``normalize_username`` for a new one (strict),
``comparable_username`` for comparing what someone typed, and
``username_key`` for finding and counting accounts.
"""

import hashlib
import unicodedata
from functools import cache, lru_cache
from importlib import resources

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from werkzeug.exceptions import BadRequest

from .confusables import is_default_ignorable, skeleton

MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit

# The words of every form that asks for a new password twice.
PASSWORDS_DIFFER = "the two passwords do not match"


def normalize_username(value):
    """A new username: the email address as it is stored and mailed to.

    The checks, each with its own message: not too long as sent, present
    once trimmed, no invisible characters, then email-validator's syntax (no display name,
    no quoted local part, no IP-literal domain, no reserved domain; no DNS
    lookups: the reset email proves deliverability). The stored form is
    NFKC and case-folded, with the domain in its canonical Unicode form
    (IDNA/UTS #46), so "ADMIN@Example.ORG" in fullwidth letters and
    "admin@example.org" are one address, and "user@xn--mnchen-3ya.de" is
    stored as "user@münchen.de".
    """
    # The bound is on what was sent, as the OpenAPI description states it
    # (maxLength): trimming is a courtesy, not room for more.
    if len(value) > MAX_EMAIL_LENGTH:
        raise BadRequest(f"username must be at most {MAX_EMAIL_LENGTH} characters")
    username = value.strip()
    if not username:
        raise BadRequest("username is required")
    if any(is_invisible(char) for char in username):
        # Zero-width spaces, joiners, bidi controls, fillers: they make one
        # address look like another, or like nothing at all.
        raise BadRequest(
            "username must not contain invisible characters"
            " (zero-width spaces, direction marks and the like)"
        )
    try:
        address = validate_email(
            fold(username),
            check_deliverability=False,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        ).normalized
    except EmailNotValidError as error:
        raise BadRequest(
            f"username must be an email address, like name@example.org: {error}"
        ) from None
    if len(address) > MAX_EMAIL_LENGTH:
        raise BadRequest(f"username must be at most {MAX_EMAIL_LENGTH} characters")
    return address


def comparable_username(value):
    """*value* as normalize_username would store it, or as close as it gets; never raises.

    For what people type where nothing is created (sign-in, /iforgot,
    searches): a valid address comes out exactly as it was stored; an
    invalid one is cleaned of invisible characters and trailing dots and
    tried again, so "ad\u200bmin@example.org" and "admin@example.org."
    compare like "admin@example.org"; anything else is just folded.
    """
    try:
        return normalize_username(value)
    except BadRequest:
        pass
    cleaned = "".join(char for char in value if not is_invisible(char)).strip().rstrip(".")
    try:
        return normalize_username(cleaned)
    except BadRequest:
        return fold(cleaned)


def username_key(value):
    """The key under which a username is stored (``users.username_key``), looked up and counted.

    The SHA-256 of the confusable skeleton (confusables.py) of
    ``comparable_username(value)``: usernames that look the same have the
    same key, and the unique index on the key makes them one account, also
    under a race. A look-alike typed at sign-in or /iforgot therefore finds
    the account it imitates (whose own address the mail goes to), never
    another one. A digest, so the key has one length whatever the
    skeleton's (a character may map to several). Never raises: a malformed
    username is looked up (and finds nothing) and counted like any other.
    """
    if len(value) <= MAX_EMAIL_LENGTH + 64:
        return cached_key(value)
    return compute_key(value)


# A sign-in computes the key several times (lockout, lookup); about 100 us
# each. Few and short values are kept (under 0.3 MiB), so junk cannot fill memory.
@lru_cache(maxsize=512)
def cached_key(value):
    return compute_key(value)


def compute_key(value):
    shape = skeleton(comparable_username(value))
    return hashlib.sha256(shape.encode("utf-8", "surrogatepass")).hexdigest()


def fold(text):
    """NFKC with case folding (NFKC_Casefold, closely): fullwidth "AB" -> "ab", "ß" -> "ss"."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def is_invisible(char):
    """Format characters (Cf: zero-width, bidi controls) and other default-ignorables."""
    return unicodedata.category(char) == "Cf" or is_default_ignorable(char)


def check_password(password):
    """NIST SP 800-63B: a minimum length, a maximum, no common passwords."""
    config = current_app.config
    shortest = config["IDM_PASSWORD_MIN_LENGTH"]
    longest = config["IDM_PASSWORD_MAX_LENGTH"]
    if "\x00" in password:
        raise BadRequest("password must not contain NUL characters")
    if len(password) < shortest:
        raise BadRequest(f"password must be at least {shortest} characters")
    if len(password) > longest:
        raise BadRequest(f"password must be at most {longest} characters")
    if password.lower() in common_passwords():
        raise BadRequest("password is too common; choose another")
    return password


def check_repeated(password, repeated):
    """The second typing of a new password must equal the first."""
    if password != repeated:
        raise BadRequest(PASSWORDS_DIFFER)


def password_rules():
    """The policy in one sentence, for the forms."""
    config = current_app.config
    return (
        f"{config['IDM_PASSWORD_MIN_LENGTH']} to {config['IDM_PASSWORD_MAX_LENGTH']}"
        " characters, any you like; very common passwords are refused."
    )


@cache
def common_passwords():
    text = resources.files(__package__).joinpath("common-passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())
